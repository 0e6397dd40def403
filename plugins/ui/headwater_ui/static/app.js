// headwater's web UI: draws the pages from the JSON API under /api/ (the only place anything is
// computed). No framework and no build step: what ships in the wheel is what runs.
//
// Every value from the store (run names, parameters, log lines, results) reaches the page as
// text: elements are made with el()/svg() and filled through text nodes, never through
// innerHTML, so nothing a flow wrote can become markup.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const POLL_MS = 1000;
const PAGE_SIZE = 50;
const STATE_TYPES = ["COMPLETED", "FAILED", "CRASHED", "CANCELLED", "RUNNING", "PENDING", "SCHEDULED", "PAUSED"];
const LEVELS = [[0, "all levels"], [10, "DEBUG+"], [20, "INFO+"], [30, "WARNING+"], [40, "ERROR+"]];
const GRAPH_NODE_CAP = 2000;

// -- making elements ------------------------------------------------------------------

function fill(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function el(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

function svg(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

function replace(node, ...children) {
  node.replaceChildren();
  return fill(node, {}, children);
}

// -- talking to the API -----------------------------------------------------------------

class ApiError extends Error {}

async function api(path, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one !== null && one !== undefined && one !== "") query.append(name, one);
    }
  }
  const url = "/api/" + path + (query.toString() ? "?" + query : "");
  const response = await fetch(url, { headers: { accept: "application/json" } });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const body = await response.json();
      detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    } catch (_) { /* not JSON: keep the status text */ }
    throw new ApiError(`${response.status}: ${detail}`);
  }
  return response.json();
}

// -- formatting -----------------------------------------------------------------------------

// One formatter for every time on a page: toLocaleString with options makes a new one each call,
// 40 us each, which was 1.2 s of drawing a run of 10,000 task runs.
const TIME_FORMAT = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });

function time(iso) {
  if (!iso) return "-";
  return TIME_FORMAT.format(new Date(iso));
}

function preciseTime(iso) {
  if (!iso) return "-";
  const d = new Date(iso);
  return time(iso) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

function seconds(from, to) {
  return (new Date(to) - new Date(from)) / 1000;
}

function duration(s) {
  if (s === null || s === undefined || isNaN(s)) return "-";
  if (s < 1) return Math.round(s * 1000) + " ms";
  if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

function runDuration(run) {
  if (!run.start_time) return "-";
  return duration(seconds(run.start_time, run.end_time || new Date().toISOString()));
}

function shortId(id) {
  return id.slice(-8);
}

function stateBadge(state) {
  if (!state) return el("span", { class: "state state-NONE" }, "-");
  return el("span", { class: `state state-${state.type}`, title: state.message || state.type }, state.name);
}

function pretty(value) {
  return JSON.stringify(value, null, 2);
}

function fields(pairs) {
  return el("dl", { class: "fields" }, pairs.map(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]));
}

// rows: the <tr> elements, or a <tbody> the caller keeps adding to.
function table(headings, rows, attrs) {
  return el("table", attrs || {},
    el("thead", {}, el("tr", {}, headings.map((h) => el("th", {}, h)))),
    rows instanceof HTMLTableSectionElement ? rows : el("tbody", {}, rows));
}

function section(title, ...body) {
  return el("section", { class: "card" }, el("h2", {}, title), body);
}

function showError(where, error) {
  replace(where, el("p", { class: "error", role: "alert" }, error instanceof ApiError ? error.message : String(error)));
}

function setLive(on) {
  document.getElementById("live").hidden = !on;
}

// -- polling while a run is unfinished -------------------------------------------------------

let pollTimer = null;

function poll(refresh) {
  // One refresh at a time: the next is asked for a second after the last one answered.
  clearTimeout(pollTimer);
  setLive(true);
  pollTimer = setTimeout(async () => {
    let again = false;
    try {
      again = await refresh();
    } catch (error) {
      again = true; // a store busy for a moment: try again
    }
    if (again) poll(refresh);
    else setLive(false);
  }, POLL_MS);
}

// -- the flow runs page -----------------------------------------------------------------------

function filtersFromUrl() {
  const q = new URLSearchParams(location.search);
  return {
    flow_name: q.get("flow_name") || "",
    state: q.getAll("state"),
    tag: q.getAll("tag"),
    since: q.get("since") || "",
    until: q.get("until") || "",
    offset: Math.max(0, parseInt(q.get("offset") || "0", 10) || 0),
  };
}

function urlWith(filters) {
  const q = new URLSearchParams();
  if (filters.flow_name) q.set("flow_name", filters.flow_name);
  for (const s of filters.state) q.append("state", s);
  for (const t of filters.tag) q.append("tag", t);
  if (filters.since) q.set("since", filters.since);
  if (filters.until) q.set("until", filters.until);
  if (filters.offset) q.set("offset", filters.offset);
  return "/" + (q.toString() ? "?" + q : "");
}

function apiFilters(filters) {
  // datetime-local gives the browser's local time without a zone: send it as UTC, as the API keeps times.
  const utc = (local) => (local ? new Date(local).toISOString() : "");
  return { flow_name: filters.flow_name, state: filters.state, tag: filters.tag, since: utc(filters.since), until: utc(filters.until) };
}

function filterForm(filters) {
  const form = el("form", { class: "filters", id: "filters" },
    el("label", {}, "Flow ", el("input", { name: "flow_name", value: filters.flow_name, placeholder: "any flow", size: 16 })),
    el("label", {}, "Tags ", el("input", { name: "tag", value: filters.tag.join(", "), placeholder: "all of, comma separated", size: 18 })),
    el("label", {}, "From ", el("input", { name: "since", type: "datetime-local", step: 1, value: filters.since })),
    el("label", {}, "To ", el("input", { name: "until", type: "datetime-local", step: 1, value: filters.until })),
    el("fieldset", { class: "states" }, el("legend", {}, "State"),
      STATE_TYPES.map((type) => el("label", { class: `state-choice state-${type}` },
        el("input", { type: "checkbox", name: "state", value: type, checked: filters.state.includes(type) }), type.toLowerCase()))),
    el("button", { type: "submit" }, "Filter"),
    el("a", { href: "/", class: "reset" }, "Clear"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    location.href = urlWith({
      flow_name: data.get("flow_name").trim(),
      tag: data.get("tag").split(",").map((t) => t.trim()).filter(Boolean),
      since: data.get("since"),
      until: data.get("until"),
      state: data.getAll("state"),
      offset: 0,
    });
  });
  return form;
}

function stateCounts(counts, filters) {
  const total = counts.reduce((sum, c) => sum + c.count, 0);
  return el("div", { class: "counts", id: "counts" },
    el("span", { class: "count-total" }, `${total.toLocaleString()} flow run${total === 1 ? "" : "s"}`),
    counts.map((c) => {
      const type = c.state_type || "NONE";
      const href = c.state_type ? urlWith({ ...filters, state: [c.state_type], offset: 0 }) : null;
      return el(href ? "a" : "span", { class: `count state state-${type}`, href, "data-state": type }, `${type.toLowerCase()} ${c.count.toLocaleString()}`);
    }));
}

function histogramChart(histogram) {
  const width = 960, height = 120, pad = 18;
  const buckets = histogram.buckets;
  if (!buckets.length) return el("p", { class: "muted" }, "No runs to chart.");
  const start = new Date(histogram.start).getTime();
  const end = Math.max(new Date(histogram.end).getTime(), start + 1000);
  const first = Math.floor(start / 1000 / histogram.bucket_seconds) * histogram.bucket_seconds * 1000;
  const n = Math.max(1, Math.ceil((end - first) / 1000 / histogram.bucket_seconds) + 1);
  const barWidth = (width - 2 * pad) / n;
  const max = Math.max(...buckets.map((b) => Object.values(b.counts).reduce((a, x) => a + x, 0)));
  const chart = svg("svg", { class: "histogram", id: "histogram", viewBox: `0 0 ${width} ${height + pad}`, role: "img", "aria-label": "Flow runs over time" });
  for (const bucket of buckets) {
    const at = (new Date(bucket.start).getTime() - first) / 1000 / histogram.bucket_seconds;
    let y = height;
    for (const type of [...STATE_TYPES, "NONE"]) {
      const count = bucket.counts[type];
      if (!count) continue;
      const h = Math.max(1, (count / max) * (height - pad));
      y -= h;
      chart.append(svg("rect", { class: `bar fill-${type}`, x: pad + at * barWidth, y, width: Math.max(1, barWidth - 1), height: h, "data-state": type, "data-count": count },
        svg("title", {}, `${time(bucket.start)}: ${count} ${type.toLowerCase()}`)));
    }
  }
  chart.append(svg("text", { x: pad, y: height + pad - 4, class: "axis" }, time(new Date(first).toISOString())));
  chart.append(svg("text", { x: width - pad, y: height + pad - 4, class: "axis", "text-anchor": "end" }, time(new Date(end).toISOString())));
  chart.append(svg("text", { x: pad, y: 12, class: "axis" }, `${max} per ${duration(histogram.bucket_seconds)}`));
  return chart;
}

function runRow(run) {
  return el("tr", { "data-run-id": run.id },
    el("td", {}, el("a", { href: `/flow-runs/${run.id}`, class: "run-link" }, run.name)),
    el("td", {}, run.flow_name),
    el("td", {}, stateBadge(run.state)),
    el("td", {}, time(run.start_time || run.created)),
    el("td", { class: "num" }, runDuration(run)),
    el("td", {}, run.tags.map((t) => el("span", { class: "tag" }, t))));
}

const FINAL_TYPES = new Set(["COMPLETED", "FAILED", "CRASHED", "CANCELLED"]);

async function runsPage(main) {
  const filters = filtersFromUrl();
  const query = apiFilters(filters);
  const results = el("div", { id: "results" });

  // The counts, the chart and the page of runs; asked for again while a run on the page is unfinished.
  async function drawResults() {
    const [runs, counts, histogram] = await Promise.all([
      api("flow-runs", { ...query, limit: PAGE_SIZE, offset: filters.offset }),
      api("flow-run-counts", query),
      api("flow-run-histogram", query),
    ]);
    const total = counts.reduce((sum, c) => sum + c.count, 0);
    const page = Math.floor(filters.offset / PAGE_SIZE) + 1;
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    const pager = el("nav", { class: "pager" },
      filters.offset > 0 ? el("a", { href: urlWith({ ...filters, offset: Math.max(0, filters.offset - PAGE_SIZE) }), rel: "prev" }, "← Newer") : null,
      el("span", {}, `page ${page} of ${pages}`),
      filters.offset + PAGE_SIZE < total ? el("a", { href: urlWith({ ...filters, offset: filters.offset + PAGE_SIZE }), rel: "next" }, "Older →") : null);
    replace(results,
      stateCounts(counts, filters),
      histogramChart(histogram),
      runs.length
        ? table(["Name", "Flow", "State", "Started", "Duration", "Tags"], runs.map(runRow), { id: "runs", class: "runs" })
        : el("p", { class: "muted", id: "runs-empty" }, "No flow run matches."),
      pager);
    return runs.some((run) => !run.state || !FINAL_TYPES.has(run.state.type));
  }

  const unfinished = await drawResults();
  replace(main, el("h1", {}, "Flow runs"), filterForm(filters), results);
  if (unfinished) poll(drawResults);
}

// -- a flow run's page --------------------------------------------------------------------------

function historyTable(history) {
  return table(["State", "Time", "Message"], history.map((s, i) => el("tr", {},
    el("td", {}, stateBadge(s)),
    el("td", {}, preciseTime(s.timestamp), i > 0 ? el("span", { class: "muted" }, ` +${duration(seconds(history[i - 1].timestamp, s.timestamp))}`) : null),
    el("td", { class: "message" }, s.message || ""))), { class: "history" });
}

function runFields(run, extra) {
  return fields([
    ["id", el("code", {}, run.id)],
    ["state", [stateBadge(run.state), run.state && run.state.message ? el("span", { class: "message" }, " " + run.state.message) : null]],
    ["created", preciseTime(run.created)],
    ["start", preciseTime(run.start_time)],
    ["end", preciseTime(run.end_time)],
    ["duration", runDuration(run)],
    ["run count", String(run.run_count)],
    ["tags", run.tags.length ? run.tags.map((t) => el("span", { class: "tag" }, t)) : "-"],
    ...extra,
  ]);
}

function parametersBlock(parameters) {
  return Object.keys(parameters).length ? el("pre", { class: "json parameters" }, pretty(parameters)) : el("p", { class: "muted" }, "(none)");
}

function timelineChart(rows, flowRun) {
  if (!rows.length) return el("p", { class: "muted" }, "No task runs.");
  const now = new Date().toISOString();
  let start = Infinity, end = -Infinity;
  for (const row of rows) {
    for (const s of row.segments) {
      start = Math.min(start, new Date(s.start).getTime());
      end = Math.max(end, new Date(s.end || now).getTime());
    }
  }
  if (flowRun.start_time) start = Math.min(start, new Date(flowRun.start_time).getTime());
  if (!isFinite(start)) return el("p", { class: "muted" }, "No task run has a state yet.");
  end = Math.max(end, start + 1);
  const label = 220, width = 1100, rowHeight = 18, top = 20;
  const span = end - start;
  const x = (iso) => label + ((new Date(iso || now).getTime() - start) / span) * (width - label - 10);
  const chart = svg("svg", { class: "timeline", id: "timeline", width, height: top + rows.length * rowHeight + 4, "data-rows": rows.length });
  chart.append(svg("text", { x: label, y: 12, class: "axis" }, "0"),
    svg("text", { x: width - 10, y: 12, class: "axis", "text-anchor": "end" }, duration(span / 1000)));
  rows.forEach((row, i) => {
    const y = top + i * rowHeight;
    const run = row;
    const group = svg("a", { class: "timeline-row", href: `/task-runs/${run.id}`, "data-task-run-id": run.id, "data-run-count": run.run_count },
      svg("text", { x: label - 6, y: y + 12, class: "label", "text-anchor": "end" }, run.name.length > 32 ? run.name.slice(0, 31) + "…" : run.name));
    for (const s of row.segments) {
      const x0 = x(s.start);
      const point = s.end === s.start && ["completed", "cached", "failed", "crashed", "cancelled"].includes(s.kind);
      const w = point ? 6 : Math.max(2, x(s.end) - x0);
      const tip = `${run.name}: ${s.state_name}${s.attempt ? ` (attempt ${s.attempt})` : ""}, ${preciseTime(s.start)}` +
        (point ? "" : ` for ${duration(seconds(s.start, s.end || now))}`) + (s.message ? ` — ${s.message}` : "");
      group.append(svg("rect", {
        class: `segment kind-${s.kind}${point ? " point" : ""}`, x: point ? x0 - 3 : x0, y: y + 3, width: w, height: rowHeight - 6,
        "data-kind": s.kind, "data-attempt": s.attempt,
      }, svg("title", {}, tip)));
    }
    chart.append(group);
  });
  const legend = el("div", { class: "legend" }, ["pending", "running", "retry-wait", "paused", "completed", "cached", "failed", "crashed"]
    .map((kind) => el("span", {}, el("i", { class: `swatch kind-${kind}` }), kind.replace("-", " "))));
  return el("div", {}, legend, el("div", { class: "scroll" }, chart));
}

// The graph of the page's task runs, from their timeline rows (which carry their place and
// inputs): the same layout /api/flow-runs/{id}/graph answers, without reading the runs twice.
function graphOf(rows) {
  return {
    nodes: rows.map((r) => ({ id: r.id, name: r.name, state_type: r.state_type, layer: r.layer, row: r.row })),
    edges: rows.flatMap((r) => r.upstream_task_run_ids.map((source) => ({ source, target: r.id }))),
    outside: [],
  };
}

function graphChart(graph) {
  if (!graph.nodes.length) return el("p", { class: "muted" }, "No task runs.");
  const nodes = graph.nodes.slice(0, GRAPH_NODE_CAP);
  const shown = new Map(nodes.map((n) => [n.id, n]));
  const colWidth = 210, nodeWidth = 170, rowHeight = 34, nodeHeight = 24, pad = 10;
  const columns = Math.max(...nodes.map((n) => n.layer)) + 1;
  const rows = Math.max(...nodes.map((n) => n.row)) + 1;
  const chart = svg("svg", { class: "graph", id: "graph", width: pad * 2 + columns * colWidth, height: pad * 2 + rows * rowHeight, "data-edges": graph.edges.length });
  const at = (n) => [pad + n.layer * colWidth, pad + n.row * rowHeight];
  for (const edge of graph.edges) {
    const from = shown.get(edge.source), to = shown.get(edge.target);
    if (!from || !to) continue;
    const [x1, y1] = at(from), [x2, y2] = at(to);
    const sx = x1 + nodeWidth, sy = y1 + nodeHeight / 2, tx = x2, ty = y2 + nodeHeight / 2, bend = (tx - sx) / 2;
    chart.append(svg("path", { class: "edge", d: `M${sx},${sy} C${sx + bend},${sy} ${tx - bend},${ty} ${tx},${ty}`, "data-source": edge.source, "data-target": edge.target }));
  }
  for (const node of nodes) {
    const [x, y] = at(node);
    chart.append(svg("a", { class: "node", href: `/task-runs/${node.id}`, "data-task-run-id": node.id },
      svg("rect", { x, y, width: nodeWidth, height: nodeHeight, rx: 4, class: `fill-${node.state_type || "NONE"}` }),
      svg("text", { x: x + 8, y: y + 16 }, node.name.length > 24 ? node.name.slice(0, 23) + "…" : node.name),
      svg("title", {}, `${node.name} (${node.state_type || "no state"})`)));
  }
  const note = graph.nodes.length > nodes.length ? el("p", { class: "muted" }, `Showing the first ${nodes.length.toLocaleString()} of ${graph.nodes.length.toLocaleString()} task runs.`) : null;
  const outside = graph.outside.length ? el("p", { class: "muted" }, `${graph.outside.length} input(s) came from task runs of another flow run.`) : null;
  return el("div", {}, note, outside, el("div", { class: "scroll" }, chart));
}

function logRow(line) {
  return el("tr", { class: `log level-${line.level}`, "data-log-id": line.id, "data-run-id": line.run_id },
    el("td", { class: "nowrap" }, preciseTime(line.timestamp)),
    el("td", {}, el("span", { class: `level level-${line.level}` }, levelName(line.level))),
    el("td", { class: "nowrap" }, line.run_name || shortId(line.run_id)),
    el("td", { class: "message" }, line.message));
}

function levelName(level) {
  return { 10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL" }[level] || `LEVEL ${level}`;
}

// A log view that reads on from the last line it has: its filters ask the API again from the start.
function logView(flowRunId, taskRuns, fixedTaskRunId) {
  const body = el("tbody", {});
  const state = { after: 0, minLevel: 0, taskRunId: fixedTaskRunId || "" };
  const empty = el("p", { class: "muted" }, "No log lines.");
  const levelSelect = el("select", { name: "level", id: "log-level" }, LEVELS.map(([value, text]) => el("option", { value }, text)));
  const runSelect = fixedTaskRunId ? null : el("select", { name: "task_run", id: "log-task-run" },
    el("option", { value: "" }, "every run"), taskRuns.map((t) => el("option", { value: t.id }, t.name)));
  async function more() {
    const lines = await api(`flow-runs/${encodeURIComponent(flowRunId)}/logs`, { min_level: state.minLevel, task_run_id: state.taskRunId, after_id: state.after });
    for (const line of lines) body.append(logRow(line));
    if (lines.length) state.after = lines[lines.length - 1].id;
    empty.hidden = body.children.length > 0;
  }
  function restart() {
    state.after = 0;
    state.minLevel = parseInt(levelSelect.value, 10);
    if (runSelect) state.taskRunId = runSelect.value;
    body.replaceChildren();
    return more();
  }
  levelSelect.addEventListener("change", restart);
  if (runSelect) runSelect.addEventListener("change", restart);
  const view = el("div", { class: "logs" },
    el("div", { class: "log-filters" }, levelSelect, runSelect),
    table(["Time", "Level", "Run", "Message"], body, { id: "logs" }), empty);
  return { view, more, restart, setTaskRuns(rows) {
    if (!runSelect) return;
    const known = new Set([...runSelect.options].map((o) => o.value));
    for (const row of rows) if (!known.has(row.id)) runSelect.append(el("option", { value: row.id }, row.name));
  } };
}

function artifactView(artifact) {
  let body;
  if (artifact.type === "table") body = artifactTable(artifact.data);
  else if (artifact.type === "link") body = el("pre", { class: "markdown" }, artifact.data);
  else body = el("pre", { class: "markdown" }, typeof artifact.data === "string" ? artifact.data : pretty(artifact.data));
  return el("div", { class: "artifact" },
    el("h3", {}, artifact.key || "(no key)", el("span", { class: "muted" }, ` ${artifact.type}`)),
    artifact.description ? el("p", {}, artifact.description) : null, body);
}

function artifactTable(data) {
  let headings = [], rows = [];
  if (Array.isArray(data) && data.length && !Array.isArray(data[0]) && typeof data[0] === "object") {
    headings = [...new Set(data.flatMap((row) => Object.keys(row)))];
    rows = data.map((row) => headings.map((h) => row[h]));
  } else if (Array.isArray(data)) {
    rows = data;
  } else if (data && typeof data === "object") {
    headings = Object.keys(data);
    const n = Math.max(...headings.map((h) => data[h].length));
    rows = Array.from({ length: n }, (_, i) => headings.map((h) => data[h][i]));
  }
  const cell = (v) => el("td", {}, v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));
  return table(headings, rows.map((row) => el("tr", {}, (Array.isArray(row) ? row : [row]).map(cell))));
}

async function flowRunPage(main, runId) {
  const id = encodeURIComponent(runId);
  const [detail, rows] = await Promise.all([api(`flow-runs/${id}`), api(`flow-runs/${id}/task-runs`)]);
  const run = detail.flow_run;
  document.title = `${run.name} · headwater`;
  const header = el("h1", {});
  const summary = el("div", {});
  const history = el("div", {});
  const timeline = el("div", { id: "timeline-box" });
  const graphBox = el("div", { id: "graph-box" });
  const subflows = el("div", {});
  const artifacts = el("div", {});
  const logs = logView(run.id, rows);

  function draw(detail, rows) {
    const run = detail.flow_run;
    replace(header, el("span", { class: "muted" }, "Flow run "), run.name, " ", stateBadge(run.state));
    const extra = [["flow", run.flow_name], ["version", run.flow_version || "-"]];
    if (detail.parent_flow_run) extra.push(["parent flow run", el("a", { href: `/flow-runs/${detail.parent_flow_run.id}` }, detail.parent_flow_run.name)]);
    if (run.parent_task_run_id) extra.push(["parent task run", el("a", { href: `/task-runs/${run.parent_task_run_id}` }, shortId(run.parent_task_run_id))]);
    replace(summary, runFields(run, extra), el("h3", {}, "Parameters"), parametersBlock(run.parameters));
    replace(history, historyTable(detail.state_history));
    replace(timeline, timelineChart(rows, run));
    replace(graphBox, graphChart(graphOf(rows)));
    replace(subflows, detail.subflow_runs.length
      ? table(["Name", "Flow", "State", "Started", "Duration"], detail.subflow_runs.map((r) => el("tr", {},
        el("td", {}, el("a", { href: `/flow-runs/${r.id}`, class: "subflow-link" }, r.name)), el("td", {}, r.flow_name),
        el("td", {}, stateBadge(r.state)), el("td", {}, time(r.start_time)), el("td", { class: "num" }, runDuration(r)))), { id: "subflows" })
      : el("p", { class: "muted" }, "(none)"));
    replace(artifacts, detail.artifacts.length ? detail.artifacts.map(artifactView) : el("p", { class: "muted" }, "(none)"));
    logs.setTaskRuns(rows);
  }

  draw(detail, rows);
  replace(main,
    header,
    el("div", { class: "columns" }, section("Flow run", summary), section("State history", history)),
    section(`Timeline`, timeline),
    section("Task graph", graphBox),
    section("Logs", logs.view),
    section("Subflow runs", subflows),
    section("Artifacts", artifacts));
  await logs.more();
  if (!detail.finished) {
    poll(async () => {
      const [detail, rows] = await Promise.all([api(`flow-runs/${id}`), api(`flow-runs/${id}/task-runs`)]);
      draw(detail, rows);
      await logs.more();
      return !detail.finished;
    });
  }
}

// -- a task run's page ----------------------------------------------------------------------------

async function taskRunPage(main, runId) {
  const detail = await api(`task-runs/${encodeURIComponent(runId)}`);
  const header = el("h1", {});
  const summary = el("div", {});
  const history = el("div", {});
  const links = el("div", {});
  const result = el("div", {});
  const run = detail.task_run;
  const logs = run.flow_run_id ? logView(run.flow_run_id, [], run.id) : null;
  document.title = `${run.name} · headwater`;

  function draw(detail) {
    const run = detail.task_run;
    replace(header, el("span", { class: "muted" }, "Task run "), run.name, " ", stateBadge(run.state));
    const extra = [
      ["task", run.task_name],
      ["task key", el("code", {}, run.task_key)],
      ["cache key", run.cache_key ? el("code", {}, run.cache_key) : "-"],
      ["flow run", detail.flow_run ? el("a", { href: `/flow-runs/${detail.flow_run.id}`, class: "flow-run-link" }, detail.flow_run.name) : "-"],
    ];
    replace(summary, runFields(run, extra), el("h3", {}, "Parameters"), parametersBlock(run.parameters));
    replace(history, historyTable(detail.state_history));
    const list = (runs) => runs.length ? el("ul", {}, runs.map((t) => el("li", {}, el("a", { href: `/task-runs/${t.id}` }, t.name), " ", stateBadge(t.state)))) : el("p", { class: "muted" }, "(none)");
    replace(links, el("h3", {}, "Upstream"), list(detail.upstream), el("h3", {}, "Downstream"), list(detail.downstream));
    replace(result, detail.result.shown ? el("pre", { class: "json result", id: "result" }, pretty(detail.result.value)) : el("p", { class: "muted", id: "result" }, detail.result.note));
  }

  draw(detail);
  replace(main, header,
    el("div", { class: "columns" }, section("Task run", summary), section("State history", history)),
    el("div", { class: "columns" }, section("Result", result), section("Inputs and outputs", links)),
    logs ? section("Logs", logs.view) : null);
  if (logs) await logs.more();
  if (!detail.finished) {
    poll(async () => {
      const detail = await api(`task-runs/${encodeURIComponent(runId)}`);
      draw(detail);
      if (logs) await logs.more();
      return !detail.finished;
    });
  }
}

// -- cache, limits, plugins -----------------------------------------------------------------------

async function cachePage(main) {
  const entries = await api("cache-entries");
  const now = Date.now();
  replace(main, el("h1", {}, "Cache entries"),
    entries.length ? table(["Key", "Task", "Filed by", "Created", "Expires", "Size"], entries.map((e) => el("tr", {},
      el("td", {}, el("code", {}, e.key)),
      el("td", {}, e.task_name || "-"),
      el("td", {}, el("a", { href: `/task-runs/${e.task_run_id}` }, shortId(e.task_run_id))),
      el("td", {}, time(e.created)),
      el("td", { class: e.expiration && new Date(e.expiration) <= now ? "expired" : "" }, e.expiration ? time(e.expiration) : "never"),
      el("td", { class: "num" }, e.payload_size === null ? "missing" : `${e.payload_size.toLocaleString()} B`))), { id: "cache" })
      : el("p", { class: "muted" }, "The cache is empty."));
}

async function limitsPage(main) {
  const limits = await api("concurrency-limits");
  replace(main, el("h1", {}, "Concurrency limits"),
    limits.length ? table(["Tag", "Slots in use", "Held by"], limits.map((l) => el("tr", { "data-tag": l.tag },
      el("td", {}, el("span", { class: "tag" }, l.tag)),
      el("td", { class: "num" }, `${l.active} of ${l.limit}`),
      el("td", {}, l.holders.length ? el("ul", {}, l.holders.map((h) => el("li", {},
        el("a", { href: `/task-runs/${h.task_run_id}` }, h.task_run_name), ` (pid ${h.pid} on ${h.host}, since ${time(h.acquired)})`))) : "-"))), { id: "limits" })
      : el("p", { class: "muted" }, "No tag has a concurrency limit. Set one with `headwater concurrency-limit create TAG N`."));
}

async function pluginsPage(main) {
  const info = await api("plugins");
  const named = (title, rows) => section(title, rows.length
    ? table(["Name", "Object"], rows.map((r) => el("tr", {}, el("td", {}, r.name), el("td", {}, el("code", {}, r.object)))))
    : el("p", { class: "muted" }, "(none)"));
  replace(main, el("h1", {}, "Plugins"),
    section("Plugins", table(["Name", "Distribution", "Version", "Hooks"], info.plugins.map((p) => el("tr", {},
      el("td", {}, p.name), el("td", {}, p.distribution || "-"), el("td", {}, p.version || "-"), el("td", {}, p.hooks.join(", ") || "-"))), { id: "plugins" })),
    named("Task runners", info.task_runners),
    named("Stores", info.stores),
    named("Cache-key functions", info.cache_key_functions),
    named("Input hashers", info.input_hashers),
    section("Orchestration rules", table(["#", "Rule", "Applies to", "From", "To"], info.orchestration_rules.map((r) => el("tr", {},
      el("td", {}, r.position), el("td", {}, r.name), el("td", {}, r.applies_to.join(", ")), el("td", {}, r.from_states), el("td", {}, r.to_states))))),
    section("Commands", table(["Command", "Plugin"], info.commands.map((c) => el("tr", {}, el("td", {}, `headwater ${c.name}`), el("td", {}, c.plugin))))),
    info.failures.length ? section("Failed to load", el("pre", {}, pretty(info.failures))) : null);
}

// -- routing ---------------------------------------------------------------------------------------

const ROUTES = [
  [/^\/$/, "runs", runsPage],
  [/^\/flow-runs\/([^/]+)$/, "runs", flowRunPage],
  [/^\/task-runs\/([^/]+)$/, "runs", taskRunPage],
  [/^\/cache$/, "cache", cachePage],
  [/^\/limits$/, "limits", limitsPage],
  [/^\/plugins$/, "plugins", pluginsPage],
];

async function start() {
  const main = document.getElementById("main");
  for (const [pattern, nav, render] of ROUTES) {
    const match = location.pathname.match(pattern);
    if (!match) continue;
    for (const link of document.querySelectorAll("nav a")) link.classList.toggle("current", link.dataset.page === nav);
    try {
      await render(main, ...match.slice(1).map(decodeURIComponent));
      main.dataset.ready = "true"; // for tests and the screenshot script: the page is drawn
    } catch (error) {
      showError(main, error);
      main.dataset.ready = "error";
    }
    return;
  }
  showError(main, "No such page.");
}

start();
