// The rankings dashboard: one GET /api/v1/rankings, drawn with the vendored Chart.js.
// State lives in the URL (?window=&mode=&end=) so a view can be linked and reloaded.
// window.__tokenport reports progress ("loading", "ready", "empty", "error") for tests.
"use strict";

(function () {
  const root = document.body.dataset.root || "";
  const $ = (id) => document.getElementById(id);
  const report = (window.__tokenport = { status: "loading", charts: {} });
  const palette = ["#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#ec4899",
    "#14b8a6", "#f97316", "#84cc16", "#64748b"];
  const countryColors = { CN: "#dc2626", US: "#2563eb", EU: "#eab308", "??": "#9ca3af" };
  const windowWords = { day: "Daily", week: "Weekly", month: "Monthly" };

  function fmtTokens(n) {
    const units = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "K"]];
    for (const [size, unit] of units) if (Math.abs(n) >= size) return (n / size).toFixed(2) + unit;
    return String(n);
  }
  const fmtInt = (n) => n.toLocaleString("en-US");
  const fmtUsd = (n) => "$" + n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const fmtPct = (x) => (x * 100).toFixed(1) + "%";

  function growthCell(g) {
    const td = document.createElement("td");
    td.className = "num";
    if (g === null || g === undefined) {
      td.innerHTML = '<span class="new">new</span>';
    } else {
      const up = g >= 0;
      td.innerHTML = `<span class="${up ? "up" : "down"}">${up ? "▲" : "▼"} ${Math.abs(g * 100).toFixed(1)}%</span>`;
    }
    return td;
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function fillTable(id, rows, columns) {
    const body = $(id).querySelector("tbody");
    body.replaceChildren();
    for (const row of rows) {
      const tr = document.createElement("tr");
      for (const col of columns) tr.appendChild(col(row));
      body.appendChild(tr);
    }
  }

  function draw(id, config) {
    const canvas = $(id);
    const old = Chart.getChart(canvas);
    if (old) old.destroy();
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
    const chart = new Chart(canvas, config);
    report.charts[id] = chart.data.datasets.reduce((n, d) => n + d.data.filter((v) => v).length, 0);
    return chart;
  }

  function colorFor(section, id, i) {
    if (section === "country") return countryColors[id] || palette[i % palette.length];
    return palette[i % palette.length];
  }

  function areaChart(id, data, section) {
    const s = data.sections[section];
    const rows = s.rows.filter((r) => r.history.some((v) => v));
    if (s.other) rows.push(s.other);
    // Start the chart at the first period with traffic, not at an empty history.
    const starts = rows.map((r) => r.history.findIndex((v) => v > 0)).filter((i) => i >= 0);
    const first = starts.length ? Math.min(...starts) : 0;
    draw(id, {
      type: "line",
      data: {
        labels: data.periods.slice(first).map((p) => p.label),
        datasets: rows.map((r, i) => ({
          label: r.name, data: r.history.slice(first), fill: true, stack: "tokens", tension: 0.25, pointRadius: 2,
          borderColor: colorFor(section, r.id, i), backgroundColor: colorFor(section, r.id, i) + "99",
        })),
      },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: { y: { stacked: true, beginAtZero: true, ticks: { callback: (v) => fmtTokens(v) } } },
        plugins: { tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${fmtTokens(c.parsed.y)}` } } },
      },
    });
  }

  function shareChart(id, data, section) {
    const s = data.sections[section];
    const rows = s.rows.filter((r) => r.tokens > 0);
    if (s.other && s.other.tokens > 0) rows.push(s.other);
    draw(id, {
      type: "bar",
      data: {
        labels: rows.map((r) => r.name),
        datasets: [{ label: "share of tokens", data: rows.map((r) => +(r.share * 100).toFixed(2)),
          backgroundColor: rows.map((r, i) => colorFor(section, r.id, i)) }],
      },
      options: {
        indexAxis: "y",
        scales: { x: { ticks: { callback: (v) => v + "%" } } },
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: (c) => c.parsed.x + "%" } } },
      },
    });
  }

  function barChart(id, rows, value, label, format) {
    draw(id, {
      type: "bar",
      data: { labels: rows.map((r) => r.name), datasets: [{ label, data: rows.map(value),
        backgroundColor: rows.map((r, i) => palette[i % palette.length]) }] },
      options: { indexAxis: "y", plugins: { legend: { display: false },
        tooltip: { callbacks: { label: (c) => format(c.parsed.x) } } } },
    });
  }

  // A section the caller may not read is absent from the API's answer (a public view, or a
  // key's): its panel is hidden rather than drawn empty.
  const has = (data, name) => Boolean(data.sections[name]);
  function show(id, on, scope) {
    const el = scope ? $(id).closest(scope) : $(id);
    if (el) el.hidden = !on;
    return on;
  }

  function cards(data) {
    const t = data.totals;
    $("card-tokens").textContent = fmtTokens(t.tokens);
    $("card-requests").textContent = fmtInt(t.requests);
    $("card-errors").textContent = `${fmtInt(t.errors)} errors`;
    $("card-spend").textContent = fmtUsd(t.cost);
    if (show("card-cn", has(data, "country"), ".card")) {
      const cn = (data.sections.country.rows.concat(data.sections.country.other || [])).find((r) => r.id === "CN");
      $("card-cn").textContent = cn ? fmtPct(cn.share) : "0.0%";
      $("card-cn-growth").textContent = cn && cn.growth !== null ? `${cn.growth >= 0 ? "▲" : "▼"} ${fmtPct(Math.abs(cn.growth))} vs previous` : "";
    }
    $("card-tokens-growth").textContent = "";
    if (has(data, "model")) {
      const total = data.sections.model.rows.concat(data.sections.model.other || []);
      const before = total.reduce((n, r) => n + (r.history.length > 1 ? r.history[r.history.length - 2] : 0), 0);
      $("card-tokens-growth").textContent = before ? `${t.tokens >= before ? "▲" : "▼"} ${fmtPct(Math.abs(t.tokens / before - 1))} vs previous` : "";
    }
  }

  function tables(data) {
    $("span-head").textContent = `over ${data.span} ${data.window}${data.span === 1 ? "" : "s"}`;
    if (show("table-models", has(data, "model"), "section")) fillTable("table-models", data.sections.model.rows, [
      (r) => cell(r.rank), (r) => cell(r.name), (r) => cell(r.author), (r) => {
        const td = cell(""); const flag = document.createElement("span");
        flag.className = "flag"; flag.textContent = r.country; td.appendChild(flag); return td;
      },
      (r) => cell(fmtTokens(r.tokens), "num"), (r) => cell(fmtTokens(r.prompt_tokens), "num"),
      (r) => cell(fmtTokens(r.completion_tokens), "num"), (r) => cell(fmtInt(r.requests), "num"),
      (r) => cell(fmtUsd(r.cost), "num"), (r) => cell(fmtPct(r.share), "num"),
      (r) => growthCell(r.growth), (r) => growthCell(r.growth_span),
    ]);
    if (show("table-apps", has(data, "app"), "section")) {
      const apps = data.sections.app;
      fillTable("table-apps", apps.rows, [
        (r) => cell(r.rank), (r) => cell(r.name), (r) => cell(fmtTokens(r.tokens), "num"),
        (r) => cell(fmtInt(r.requests), "num"), (r) => cell(fmtPct(r.share), "num"), (r) => growthCell(r.growth),
      ]);
      const un = apps.unattributed;
      $("apps-note").textContent = un && un.requests ? `${fmtInt(un.requests)} requests named no app (no X-Title or HTTP-Referer).` : "";
    }
    if (show("table-keys", has(data, "key"))) fillTable("table-keys", data.sections.key.rows, [
      (r) => cell(r.rank), (r) => cell(r.name), (r) => cell(r.country), (r) => cell(fmtUsd(r.cost), "num"),
      (r) => cell(fmtPct(r.share), "num"), (r) => cell(fmtTokens(r.tokens), "num"), (r) => cell(fmtInt(r.requests), "num"),
    ]);
  }

  function render(data) {
    const word = windowWords[data.window];
    const p = data.period;
    let note = `${word} window ${p.since.slice(0, 16).replace("T", " ")} → ${p.until.slice(0, 16).replace("T", " ")} UTC (${data.mode})`;
    if (data.end_source === "latest") note += " · no recent traffic, so the window ends at the newest data";
    $("period").textContent = note;
    if (data.empty) {
      $("content").hidden = true;
      $("empty").hidden = false;
      report.status = "empty";
      return;
    }
    $("empty").hidden = true;
    $("content").hidden = false;
    $("title-author-area").textContent = `${word} tokens by author`;
    $("title-country-area").textContent = `${word} tokens by author country`;
    cards(data);
    for (const name of ["author", "country"]) {
      if (show(`chart-${name}-area`, has(data, name), "figure")) areaChart(`chart-${name}-area`, data, name);
      if (show(`chart-${name}-share`, has(data, name), "figure")) shareChart(`chart-${name}-share`, data, name);
    }
    if (show("chart-geography", has(data, "geography"), "section")) {
      const geo = data.sections.geography.rows;
      barChart("chart-geography", geo, (r) => +(r.share * 100).toFixed(2), "share of keys", (v) => v + "%");
    }
    show("chart-spend-keys", has(data, "key") || has(data, "model"), "section");
    if (show("chart-spend-keys", has(data, "key"), "figure")) {
      barChart("chart-spend-keys", data.sections.key.rows.filter((r) => r.cost > 0), (r) => +r.cost.toFixed(4), "spend", fmtUsd);
    }
    if (show("chart-spend-models", has(data, "model"), "figure")) {
      barChart("chart-spend-models", data.sections.model.rows.slice().sort((a, b) => b.cost - a.cost), (r) => +r.cost.toFixed(4), "spend", fmtUsd);
    }
    tables(data);
    report.status = "ready";
  }

  function showError(message) {
    $("content").hidden = true;
    $("empty").hidden = true;
    const box = $("status");
    box.hidden = false;
    box.textContent = message;
    report.status = "error";
  }

  async function load() {
    // The URL's parameters go to the API as they are, so a bad one gets the API's own
    // message (with the allowed values) instead of being silently dropped by a <select>.
    const params = new URLSearchParams(location.search);
    const form = $("controls");
    const query = new URLSearchParams();
    for (const name of ["window", "mode", "end"]) {
      const value = params.get(name);
      if (!value) continue;
      query.set(name, value);
      form.elements[name].value = value;
    }
    const url = `${root}/api/v1/rankings?${query}`;
    $("json-link").href = url;
    report.status = "loading";
    try {
      const resp = await fetch(url);
      const body = await resp.json();
      if (!resp.ok) {
        const e = body.error || {};
        showError(`${e.message || resp.statusText}${e.allowed ? " Allowed: " + e.allowed.join(", ") : ""}`);
        return;
      }
      $("status").hidden = true;
      $("limited").hidden = resp.headers.get("X-Tokenport-Limited") !== "1";
      report.data = body;
      render(body);
    } catch (err) {
      showError(`Could not load the rankings: ${err}`);
    }
  }

  async function loadSpeeds() {
    // Route speed (routing/speed.py): its own endpoint, shown whatever the ledger holds.
    try {
      const resp = await fetch(`${root}/api/v1/route-speeds`);
      if (!resp.ok) return;
      const body = await resp.json();
      const ms = (p, k) => (p && p[k] != null ? Math.round(p[k]).toLocaleString() : "–");
      const tps = (p, k) => (p && p[k] != null ? p[k].toFixed(1) : "–");
      const rows = body.data.map((r) => [
        r.route, r.samples.toLocaleString(), ms(r.ttft_ms, "p50"), ms(r.ttft_ms, "p90"),
        tps(r.throughput, "p50"), tps(r.throughput, "p90"),
      ]);
      const tbody = $("table-speeds").querySelector("tbody");
      tbody.replaceChildren(...rows.map((cells) => {
        const tr = document.createElement("tr");
        cells.forEach((text, i) => tr.appendChild(cell(text, i ? "num" : "")));
        return tr;
      }));
      report.speeds = body.data.length;
    } catch (err) {
      report.speeds = `error: ${err}`;
    }
  }

  $("controls").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const form = ev.target;
    const params = new URLSearchParams();
    for (const name of ["window", "mode", "end"]) if (form.elements[name].value) params.set(name, form.elements[name].value);
    history.replaceState(null, "", `${location.pathname}?${params}`);
    load();
  });
  load();
  loadSpeeds();
})();
