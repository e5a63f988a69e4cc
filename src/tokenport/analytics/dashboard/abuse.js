// The abuse page: GET /api/v1/abuse?detail=1 (flagged networks with their evidence) and
// GET /api/v1/abuse/actions (with a button to reverse an action in force).
// window.__tokenport reports progress ("loading", "ready", "error") for tests.
"use strict";

(function () {
  const root = document.body.dataset.root || "";
  const $ = (id) => document.getElementById(id);
  const report = (window.__tokenport = { status: "loading", networks: 0, actions: 0 });

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function query() {
    const form = new FormData($("controls"));
    const params = new URLSearchParams({ detail: "1" });
    for (const name of ["since", "until"]) if (form.get(name)) params.set(name, form.get(name));
    return params;
  }

  function fail(message) {
    $("status").hidden = false;
    $("status").textContent = message;
    report.status = "error";
  }

  function drawNetworks(data) {
    const box = $("networks");
    box.replaceChildren();
    const flagged = data.clusters.filter((c) => c.flagged);
    $("no-networks").hidden = flagged.length > 0;
    for (const c of flagged) {
      const card = el("article", null, "network");
      card.dataset.network = c.id;
      card.appendChild(el("h3", `${c.id} · ${c.key_ids.length} keys · score ${c.score.toFixed(2)}`));
      const list = el("ul");
      for (const reason of c.reasons) list.appendChild(el("li", reason));
      card.appendChild(list);
      const details = el("details");
      details.appendChild(el("summary", "Keys"));
      details.appendChild(el("p", c.key_ids.join(", "), "muted keys"));
      card.appendChild(details);
      box.appendChild(card);
    }
    report.networks = flagged.length;
    const body = $("table-loners").querySelector("tbody");
    body.replaceChildren();
    for (const a of data.accounts.filter((x) => x.flagged && !x.cluster)) {
      const tr = el("tr");
      tr.appendChild(el("td", a.key_id));
      tr.appendChild(el("td", a.score.toFixed(2), "num"));
      tr.appendChild(el("td", a.reasons.join("; ")));
      body.appendChild(tr);
    }
    const flaggedKeys = data.accounts.filter((a) => a.flagged).length;
    $("summary").textContent = `${data.accounts.length} keys with traffic · ${flaggedKeys} flagged · ${flagged.length} flagged networks`;
  }

  async function reverse(id) {
    const resp = await fetch(`${root}/api/v1/abuse/actions/${encodeURIComponent(id)}/reverse`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ note: "reversed from the abuse page" }),
    });
    if (!resp.ok) return fail(`Reversing ${id} failed: HTTP ${resp.status}`);
    await loadActions();
  }

  function drawActions(actions) {
    const body = $("table-actions").querySelector("tbody");
    body.replaceChildren();
    for (const a of actions) {
      const tr = el("tr");
      tr.appendChild(el("td", new Date(a.created_at * 1000).toISOString().slice(0, 16).replace("T", " ")));
      tr.appendChild(el("td", a.key_id));
      tr.appendChild(el("td", a.action));
      tr.appendChild(el("td", a.score.toFixed(2), "num"));
      tr.appendChild(el("td", a.created_by));
      tr.appendChild(el("td", a.reversed_at ? `reversed by ${a.reversed_by}` : "in force"));
      const cell = el("td");
      if (!a.reversed_at) {
        const button = el("button", "Reverse");
        button.type = "button";
        button.dataset.action = a.id;
        button.addEventListener("click", () => reverse(a.id));
        cell.appendChild(button);
      }
      tr.appendChild(cell);
      body.appendChild(tr);
    }
    report.actions = actions.length;
  }

  async function loadActions() {
    const resp = await fetch(`${root}/api/v1/abuse/actions`);
    if (!resp.ok) return fail(`Actions: HTTP ${resp.status}`);
    drawActions((await resp.json()).data);
  }

  async function load() {
    report.status = "loading";
    const url = `${root}/api/v1/abuse?${query()}`;
    $("json-link").href = url;
    $("rankings-link").href = `${root}/dashboard`;
    try {
      const resp = await fetch(url);
      if (!resp.ok) {
        const body = await resp.json().catch(() => ({}));
        return fail((body.error && body.error.message) || `HTTP ${resp.status}`);
      }
      drawNetworks(await resp.json());
      await loadActions();
      $("status").hidden = true;
      $("content").hidden = false;
      if (report.status === "loading") report.status = "ready";
    } catch (e) {
      fail(`The scan failed: ${e}`);
    }
  }

  $("controls").addEventListener("submit", (ev) => {
    ev.preventDefault();
    load();
  });
  load();
})();
