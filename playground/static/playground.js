// The playground page: one long-polled view of the workspace, re-rendered on each change, and
// the things a person does in Slack (post, mention, open a thread, Stop, ⋮ → shortcut).
"use strict";

const $ = (id) => document.getElementById(id);
const COLORS = ["#e8912d", "#2bac76", "#4a154b", "#1264a3", "#e01e5a", "#36c5f0"];

const ui = {
  person: localStorage.getItem("threadwise-person") || "",
  conversation: localStorage.getItem("threadwise-conversation") || "",
  thread: null,          // ts of the open thread's parent
  openThreadOf: null,    // a question just asked: open its thread when the answer starts
  snapshot: null,
  version: -1,
  generation: 0,         // a person switch starts a new poll; answers to the old one are dropped
  firstSeen: {},         // ts → when this page first saw the message (Slack's ts here are synthetic)
  menuFor: null,
};

// --- talking to the playground server ------------------------------------------------
// With a real model key the server asks every API request for the token its address carries.
const TOKEN = new URLSearchParams(location.search).get("token");
const AUTH = TOKEN ? { "X-Playground-Token": TOKEN } : {};

async function post(path, body) {
  const response = await fetch(path, { method: "POST", headers: { ...AUTH, "Content-Type": "application/json" },
                                       body: JSON.stringify({ person: ui.person, ...body }) });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
  return answer;
}

async function pollForever() {
  const generation = ++ui.generation;
  let since = -1;
  while (generation === ui.generation) {
    try {
      const response = await fetch(`/api/state?person=${encodeURIComponent(ui.person)}&since=${since}`, { headers: AUTH });
      const snapshot = await response.json();
      if (generation !== ui.generation) return;
      if (!response.ok) {
        if (snapshot.error === "Unknown person.") { ui.person = ""; since = -1; continue; }
        throw new Error(snapshot.error);
      }
      since = snapshot.version;
      accept(snapshot);
    } catch (error) {
      showToast("Lost the playground server; retrying…");
      await new Promise((done) => setTimeout(done, 1000));
    }
  }
}

function accept(snapshot) {
  if (!ui.person) ui.person = snapshot.me;
  ui.snapshot = snapshot;
  ui.version = snapshot.version;
  const ids = snapshot.conversations.map((c) => c.id);
  if (!ids.includes(ui.conversation) && ui.conversation !== "home") ui.conversation = snapshot.conversations.find((c) => c.is_im).id;
  const names = { [snapshot.bot.id]: snapshot.bot.name };
  for (const p of snapshot.people) names[p.id] = p.real_name;
  Render.setNames(names);
  render();
}

// --- rendering ---------------------------------------------------------------------------
function current() {
  return ui.snapshot.conversations.find((c) => c.id === ui.conversation);
}

function isTopLevel(m) { return !m.thread_ts || m.thread_ts === m.ts; }

function render() {
  const s = ui.snapshot;
  $("person-select").innerHTML = s.people.map((p) =>
    `<option value="${p.id}"${p.id === ui.person ? " selected" : ""}>${Render.esc(p.real_name)}</option>`).join("");
  $("channel-list").innerHTML = s.conversations.filter((c) => !c.is_im).map(navItem).join("");
  $("dm-list").innerHTML = s.conversations.filter((c) => c.is_im).map(navItem).join("");
  const atHome = ui.conversation === "home";
  $("home-tab").classList.toggle("active", atHome);
  for (const id of ["messages", "composer", "mode-banner"]) $(id).hidden = atHome;
  $("home-view").hidden = !atHome;
  if (atHome) { renderHome(s); renderModal(s.views); return; }
  const conversation = current();
  $("conversation-header").textContent = conversation.is_im ? s.bot.name : `# ${conversation.name}`;
  $("composer-input").placeholder = conversation.is_im ? `Message ${s.bot.name}` :
    `Message #${conversation.name} — mention @${s.bot.name} to ask it`;
  const banner = $("mode-banner");
  banner.textContent = s.practice
    ? "Practice mode: answers come from a local stand-in; no model API is called. Set OPENAI_API_KEY for real answers."
    : `Real answers: the bot calls the model API with your key (model ${s.model}).`;
  banner.classList.toggle("live", !s.practice);

  if (ui.openThreadOf && conversation.messages.some((m) => m.thread_ts === ui.openThreadOf && m.ts !== ui.openThreadOf)) {
    ui.thread = ui.openThreadOf;
    ui.openThreadOf = null;
  }
  syncList($("messages"), conversation.messages.filter(isTopLevel), conversation, true,
             conversation.is_im ? `This is your DM with ${s.bot.name}. Ask it anything: the answer streams into a thread.`
                                : `Mention @${s.bot.name} to ask it something here; it answers in a thread.`);
  renderThread(conversation);
  renderModal(s.views);
}

function navItem(c) {
  const label = c.is_im ? `<span class="app-dot"></span>${Render.esc(ui.snapshot.bot.name)}` : `# ${Render.esc(c.name)}`;
  return `<li data-testid="conv-${c.id}" data-conversation="${c.id}" class="${c.id === ui.conversation ? "active" : ""}">${label}</li>`;
}

// Lists are kept in step with the snapshot, not rebuilt: a message's element stays while its text
// streams, so a Stop button or a ⋮ menu under the pointer keeps working.
function syncList(container, messages, conversation, showReplies, emptyText, scroller = container) {
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
  const existing = new Map([...container.querySelectorAll(":scope > [data-testid=message]")].map((el) => [el.dataset.ts, el]));
  let empty = container.querySelector(":scope > .empty");
  if (!messages.length && emptyText) {
    if (!empty) { empty = document.createElement("div"); empty.className = "empty"; container.prepend(empty); }
    empty.textContent = emptyText;
  } else if (empty) {
    empty.remove();
  }
  let previous = null;
  for (const m of messages) {
    const el = existing.get(m.ts) || newMessageElement();
    existing.delete(m.ts);
    updateMessage(el, m, conversation, showReplies);
    const expected = previous ? previous.nextSibling : container.firstChild;
    if (el !== expected) container.insertBefore(el, expected);
    previous = el;
  }
  for (const gone of existing.values()) gone.remove();
  if (atBottom) scroller.scrollTop = scroller.scrollHeight;
}

function renderThread(conversation) {
  const pane = $("thread-pane");
  const parent = ui.thread && conversation.messages.find((m) => m.ts === ui.thread);
  if (!parent) { pane.hidden = true; ui.thread = null; return; }
  pane.hidden = false;
  $("thread-where").textContent = conversation.is_im ? ui.snapshot.bot.name : `#${conversation.name}`;
  const replies = conversation.messages.filter((m) => m.thread_ts === ui.thread && m.ts !== ui.thread);
  const count = replies.filter((r) => !r.ephemeral).length;
  syncList($("thread-parent"), [parent], conversation, false, "");
  $("thread-count").textContent = `${count} ${count === 1 ? "reply" : "replies"}`;
  syncList($("thread-replies"), replies, conversation, false, "", $("thread-messages"));
}

function newMessageElement() {
  const el = document.createElement("div");
  el.dataset.testid = "message";
  el.innerHTML = `<div class="avatar"></div><div class="body"><div class="meta"></div>
    <div class="content" data-testid="message-text"></div><div class="actions-box"></div><div class="replies-box"></div></div>
    <div class="hover-box"></div>`;
  return el;
}

function setHtml(el, html) {
  if (el.lastHtml !== html) { el.innerHTML = html; el.lastHtml = html; }
}

function updateMessage(el, m, conversation, showReplies) {
  const s = ui.snapshot;
  const person = s.people.find((p) => p.id === m.user);
  const name = m.is_bot ? s.bot.name : person ? person.real_name : m.user;
  const color = m.is_bot ? "#611f69" : COLORS[s.people.indexOf(person) % COLORS.length] || "#888";
  ui.firstSeen[m.ts] = ui.firstSeen[m.ts] || new Date();
  const time = ui.firstSeen[m.ts].toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  el.className = `message${m.ephemeral ? " ephemeral" : ""}${ui.menuFor === m.ts ? " menu-open" : ""}`;
  el.dataset.ts = m.ts;
  el.dataset.user = m.user || "";
  el.dataset.bot = m.is_bot ? "1" : "0";
  const [avatar, body, hover] = el.children;
  avatar.style.background = color;
  setHtml(avatar, Render.esc(name[0] || "?"));
  const [meta, content, actionsBox, repliesBox] = body.children;
  setHtml(meta, `<span class="name">${Render.esc(name)}</span>${m.is_bot ? '<span class="app-badge">APP</span>' : ""}
    <span class="time">${time}</span>${m.edited && !m.is_bot ? '<span class="edited">(edited)</span>' : ""}
    ${m.ephemeral ? '<span class="only-you">Only visible to you</span>' : ""}`);
  const shown = Render.blocks(m);
  setHtml(content, shown.content);
  setHtml(actionsBox, shown.actions);
  setHtml(repliesBox, showReplies && m.reply_count
    ? `<div class="thread-link" data-testid="replies-link" data-ts="${m.ts}">${m.reply_count} ${m.reply_count === 1 ? "reply" : "replies"}</div>` : "");
  setHtml(hover, m.ephemeral || m.subtype === "tombstone" ? "" : `<div class="hover-actions">
      ${isTopLevel(m) ? `<button type="button" class="icon" data-testid="reply-in-thread" data-ts="${m.ts}" title="Reply in thread">💬</button>` : ""}
      <button type="button" class="icon" data-testid="more-actions" data-ts="${m.ts}" title="More actions">⋮</button></div>`);
}

// The App Home tab: the view the bot published for this person (views.publish), rendered as modals are.
function renderHome(s) {
  $("conversation-header").textContent = `${s.bot.name} — Home`;
  $("thread-pane").hidden = true;
  setHtml($("home-view"), s.home ? Render.view(s.home) : `<div class="empty">Opening ${Render.esc(s.bot.name)}'s Home…</div>`);
}

async function openHome() {
  try { await post("/api/home", {}); } catch (error) { showToast(error.message); }
}

function renderModal(views) {
  const layer = $("modal-layer");
  const open = views && views[0];
  if (!open) { layer.hidden = true; return; }
  const view = open.view;
  layer.hidden = false;
  layer.dataset.viewId = open.id;
  $("modal-title").textContent = (view.title || {}).text || "";
  $("modal-body").innerHTML = Render.view(view);
  $("modal-close").textContent = (view.close || {}).text || "Close";
}

// --- what a person does ------------------------------------------------------------------
async function send(textarea, threadTs) {
  const text = textarea.value;
  if (!text.trim()) return;
  try {
    const answer = await post("/api/messages", { channel: ui.conversation, text, thread_ts: threadTs || undefined });
    textarea.value = "";
    if (!threadTs) ui.openThreadOf = answer.ts;
  } catch (error) {
    showToast(error.message);
  }
}

async function act(ts, action, extra = {}) {
  closeMenu();
  try {
    await post("/api/actions", { channel: ui.conversation, ts, action, ...extra });
  } catch (error) {
    showToast(error.message);
  }
}

function openMenu(button) {
  const ts = button.dataset.ts;
  const menu = $("menu");
  ui.menuFor = ts;
  menu.innerHTML = `<div class="menu-heading">Threadwise</div>` + ui.snapshot.shortcuts.map((s) =>
    `<button type="button" data-testid="menu-item-${s.callback_id}" data-callback="${s.callback_id}">${Render.esc(s.name)}</button>`).join("");
  menu.dataset.ts = ts;
  const box = button.getBoundingClientRect();
  menu.style.top = `${Math.min(box.bottom + 4, window.innerHeight - 120)}px`;
  menu.style.left = `${Math.max(8, box.right - 220)}px`;
  menu.hidden = false;
}

function closeMenu() {
  $("menu").hidden = true;
  ui.menuFor = null;
}

let toastTimer = null;
function showToast(text) {
  const toast = $("toast");
  toast.textContent = text;
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { toast.hidden = true; }, 4000);
}

function onListClick(event) {
  const target = event.target.closest("[data-testid]");
  if (!target) return;
  const id = target.dataset.testid;
  if (id === "replies-link" || id === "reply-in-thread") {
    ui.thread = target.dataset.ts;
    render();
    $("thread-composer-input").focus();
  } else if (id === "more-actions") {
    event.stopPropagation();
    openMenu(target);
  } else if (id === "block-button") {
    const message = target.closest("[data-testid=message]");
    act(message.dataset.ts, "button", { block_id: target.dataset.blockId, action_id: target.dataset.actionId });
  }
}

function submitOnEnter(textarea, form) {
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
}

function wire() {
  $("composer").addEventListener("submit", (e) => { e.preventDefault(); send($("composer-input"), null); });
  $("thread-composer").addEventListener("submit", (e) => { e.preventDefault(); send($("thread-composer-input"), ui.thread); });
  submitOnEnter($("composer-input"), $("composer"));
  submitOnEnter($("thread-composer-input"), $("thread-composer"));
  $("messages").addEventListener("click", onListClick);
  $("home-view").addEventListener("click", async (event) => {
    const button = event.target.closest("[data-testid=block-button]");
    if (!button) return;
    try { await post("/api/home/actions", { action_id: button.dataset.actionId }); } catch (error) { showToast(error.message); }
  });
  $("app-list").addEventListener("click", () => {
    ui.conversation = "home";
    ui.thread = null;
    localStorage.setItem("threadwise-conversation", ui.conversation);
    render();
    openHome();  // Slack sends app_home_opened on every visit
  });
  $("thread-messages").addEventListener("click", onListClick);
  $("thread-close").addEventListener("click", () => { ui.thread = null; render(); });
  for (const list of [$("channel-list"), $("dm-list")]) {
    list.addEventListener("click", (event) => {
      const item = event.target.closest("[data-conversation]");
      if (!item) return;
      ui.conversation = item.dataset.conversation;
      ui.thread = null;
      $("messages").replaceChildren();
      localStorage.setItem("threadwise-conversation", ui.conversation);
      render();
    });
  }
  $("person-select").addEventListener("change", (event) => {
    ui.person = event.target.value;
    localStorage.setItem("threadwise-person", ui.person);
    ui.thread = null;
    $("messages").replaceChildren();
    pollForever();
    if (ui.conversation === "home") openHome();
  });
  $("menu").addEventListener("click", (event) => {
    const item = event.target.closest("[data-callback]");
    if (item) act($("menu").dataset.ts, item.dataset.callback);
  });
  document.addEventListener("click", (event) => { if (!event.target.closest("#menu")) closeMenu(); });
  $("modal-close").addEventListener("click", async () => {
    const viewId = $("modal-layer").dataset.viewId;
    $("modal-layer").hidden = true;
    try { await post("/api/views/close", { view_id: viewId }); } catch (error) { showToast(error.message); }
  });
}

wire();
pollForever();
if (ui.conversation === "home" && ui.person) openHome();
