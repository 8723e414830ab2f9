// Grounded QA chat page: vanilla JS, no build step. Talks to /v1/chat/completions and
// /v1/documents/{id} with the key saved in localStorage. Text is only ever inserted as text
// nodes (never innerHTML), so document text cannot inject markup.
"use strict";

const KEY = "gqa.apiKey";
const MODEL = "grounded-qa";
const $ = (id) => document.getElementById(id);
let history = [];  // {role, content} of this conversation, sent for follow-up questions

function apiKey() { return localStorage.getItem(KEY) || ""; }

function showKeyForm(show) {
  $("key-form").hidden = !show;
  $("change-key").hidden = show;
  if (show) $("key").focus();
}

async function call(path, options = {}) {
  const headers = { "Content-Type": "application/json", ...(options.headers || {}) };
  if (apiKey()) headers.Authorization = "Bearer " + apiKey();
  const r = await fetch(path, { ...options, headers });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    const message = (body.error && body.error.message) || body.detail || r.statusText;
    const err = new Error(message);
    err.status = r.status;
    throw err;
  }
  return body;
}

// POST a chat request with stream: true and read its server-sent events as they come:
// `onText(contentSoFar)` after each piece; resolves to the whole assistant message (the last
// chunk's delta carries citations, annotations and grounding).
async function streamChat(messages, onText) {
  const headers = { "Content-Type": "application/json" };
  if (apiKey()) headers.Authorization = "Bearer " + apiKey();
  const r = await fetch("/v1/chat/completions", {
    method: "POST",
    headers,
    body: JSON.stringify({ model: MODEL, messages, stream: true }),
  });
  if (!r.ok) {
    const body = await r.json().catch(() => ({}));
    const err = new Error((body.error && body.error.message) || body.detail || r.statusText);
    err.status = r.status;
    throw err;
  }
  const message = { role: "assistant", content: "" };
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("");
      if (!data || data === "[DONE]") continue;
      const chunk = JSON.parse(data);
      const delta = (chunk.choices && chunk.choices[0] && chunk.choices[0].delta) || {};
      for (const [k, v] of Object.entries(delta)) {
        if (k === "content") { message.content += v || ""; onText(message.content); }
        else if (k !== "role") message[k] = v;
      }
    }
    if (done) return message;
  }
}

function docPath(docId) {
  return "/v1/documents/" + docId.split("/").map(encodeURIComponent).join("/");
}

function add(kind, build) {
  const li = document.createElement("li");
  li.className = kind;
  build(li);
  $("log").appendChild(li);
  li.scrollIntoView({ block: "nearest" });
  return li;
}

function badge(li, text, tooltip) {
  const b = document.createElement("div");
  b.className = "badge";
  b.textContent = text;
  if (tooltip) b.title = tooltip;
  li.appendChild(b);
}

// The refusal badge in the question's language; the reason code only as its tooltip (the
// message under it, from the service, is already in the question's script).
function refusedLabel(question) {
  return /[\u3400-\u9fff]/.test(question) ? "未能回答" : "Not answered";
}

// The answer text, with each citation's marker [n] (at its offsets) turned into a button.
function renderAnswer(li, message) {
  const text = message.content || "";
  const cites = (message.citations || []).filter((c) => c.marker_start >= 0)
    .sort((a, b) => a.marker_start - b.marker_start);
  const body = document.createElement("div");
  let at = 0;
  for (const c of cites) {
    body.appendChild(document.createTextNode(text.slice(at, c.marker_start)));
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "marker";
    btn.textContent = text.slice(c.marker_start, c.marker_end);
    btn.title = (c.title || c.source) + " — " + c.quote;
    btn.dataset.docId = c.doc_id;
    btn.addEventListener("click", () => showSource(c, btn));
    body.appendChild(btn);
    at = c.marker_end;
  }
  body.appendChild(document.createTextNode(text.slice(at)));
  li.appendChild(body);
  const sources = [...new Set((message.citations || []).map((c) => c.source))];
  if (sources.length) {
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = "Sources: " + sources.join(", ");
    li.appendChild(meta);
  }
}

// Under a refusal: passages on the topic that do not answer, each opening its document.
function renderRelated(li, related) {
  if (!related.length) return;
  const box = document.createElement("div");
  box.className = "related";
  box.appendChild(Object.assign(document.createElement("div"), { className: "meta", textContent: "Related, but not an answer:" }));
  for (const r of related) {
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "related-passage";
    btn.textContent = (r.title || r.source) + " — " + r.quote;
    btn.addEventListener("click", () => showSource(r, btn));
    box.appendChild(btn);
  }
  li.appendChild(box);
}

// The cited document with the quoted span highlighted in its surrounding text.
async function showSource(cite, btn) {
  document.querySelectorAll("button.active").forEach((b) => b.classList.remove("active"));
  btn.classList.add("active");
  const pane = $("source");
  try {
    const doc = await call(docPath(cite.doc_id));
    $("source-title").textContent = doc.title || doc.doc_id;
    $("source-name").textContent = doc.source;
    const pre = $("source-text");
    pre.replaceChildren(
      document.createTextNode(doc.text.slice(0, cite.start)),
      Object.assign(document.createElement("mark"), { textContent: doc.text.slice(cite.start, cite.end) }),
      document.createTextNode(doc.text.slice(cite.end)),
    );
    pane.hidden = false;
    pre.querySelector("mark").scrollIntoView({ block: "center" });
  } catch (e) {
    $("source-title").textContent = "Cannot show this source";
    $("source-name").textContent = e.message;
    $("source-text").replaceChildren();
    pane.hidden = false;
  }
}

async function ask(question) {
  add("user", (li) => { li.textContent = question; });
  history.push({ role: "user", content: question });
  $("send").disabled = true;
  let pending = null;
  try {
    // the text shows as it streams in; once complete, the item is drawn again with its
    // citation buttons (or as a refusal)
    pending = add("pending", () => {});
    const message = await streamChat(history, (text) => { pending.textContent = text; });
    history.push({ role: "assistant", content: message.content });
    const li = pending;
    li.replaceChildren();
    if (message.grounding && message.grounding.refused) {
      li.className = "refusal";
      badge(li, refusedLabel(question), "reason: " + message.grounding.reason);
      li.appendChild(document.createTextNode(message.content));
      renderRelated(li, message.grounding.related || []);
    } else {
      li.className = "answer";
      badge(li, "Answer");
      renderAnswer(li, message);
    }
  } catch (e) {
    if (pending) pending.remove();
    history.pop();
    add("error", (li) => { li.textContent = e.message; });
    if (e.status === 401) showKeyForm(true);
  } finally {
    $("send").disabled = false;
  }
}

$("key-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  localStorage.setItem(KEY, $("key").value.trim());
  $("key").value = "";
  showKeyForm(false);
  $("question").focus();
});
$("change-key").addEventListener("click", () => showKeyForm(true));
$("ask-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = $("question").value.trim();
  if (!q) return;
  $("question").value = "";
  ask(q);
});
$("question").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("ask-form").requestSubmit(); }
});
$("new-chat").addEventListener("click", () => { history = []; $("log").replaceChildren(); $("source").hidden = true; });
$("close-source").addEventListener("click", () => { $("source").hidden = true; });

// With no keys configured (open mode, loopback only) the service needs none.
if (apiKey()) showKeyForm(false);
else call("/v1/models").then(() => showKeyForm(false), () => showKeyForm(true));
