"""headwater's default plugins: registered first, through the same hooks as any other plugin."""
