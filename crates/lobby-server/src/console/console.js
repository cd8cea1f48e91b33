// Lobby's console: signs in over the REST API, follows livechat/inquiries.stream (through a
// stream ticket, since EventSource cannot send headers), and keeps every row current from it.
// On any break it gets a fresh ticket and resumes from the last event id it saw, so the server
// replays what happened meanwhile. No framework, no build step; every text goes in through
// textContent, never as HTML.
'use strict';

const API = '/api/v1/';
const state = {
  login: null,            // { userId, authToken, me }
  inquiries: new Map(),   // _id -> inquiry document (not closed)
  agents: new Map(),      // _id -> agent
  departments: new Map(), // _id -> name
  lastSeq: null,          // the last event id seen: where a reconnect resumes
  queueOrder: 'queuedAt',
  source: null,
  retry: 0,
  view: 'agent',
  stats: null,
  statsTimer: null,
  statsDue: null,
};

const $ = (id) => document.getElementById(id);

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// ---- REST -------------------------------------------------------------------------------------

async function api(method, path, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (state.login) {
    headers['X-User-Id'] = state.login.userId;
    headers['X-Auth-Token'] = state.login.authToken;
  }
  const response = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (response.status === 401 && path !== 'login') {
    signOut('Your session ended; sign in again.');
  }
  if (!response.ok || data.success === false || data.status === 'error') {
    const message = data.error || data.message || `${response.status} ${response.statusText}`;
    throw new Error(message);
  }
  return data;
}

function notify(message, kind) {
  const notice = $('notice');
  notice.textContent = message;
  notice.className = 'notice' + (kind === 'info' ? ' info' : '');
  notice.hidden = false;
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => { notice.hidden = true; }, 6000);
}

async function act(label, call) {
  try {
    await call();
  } catch (error) {
    notify(`${label} failed: ${error.message}`);
  }
}

// ---- signing in and out -----------------------------------------------------------------------

function isManager() {
  const roles = (state.login && state.login.me.roles) || [];
  return roles.includes('admin') || roles.includes('livechat-manager');
}

async function signIn(user, password) {
  const reply = await api('POST', 'login', { user, password });
  state.login = { userId: reply.data.userId, authToken: reply.data.authToken, me: reply.data.me };
  sessionStorage.setItem('lobby-login', JSON.stringify(state.login));
  await start();
}

function signOut(message) {
  if (state.source) state.source.close();
  state.source = null;
  if (state.login) {
    const login = state.login;
    fetch(API + 'logout', { method: 'POST', headers: { 'X-User-Id': login.userId, 'X-Auth-Token': login.authToken } }).catch(() => {});
  }
  state.login = null;
  sessionStorage.removeItem('lobby-login');
  state.inquiries.clear();
  state.agents.clear();
  state.lastSeq = null;
  clearInterval(state.statsTimer);
  showLoggedIn(false);
  if (message) notify(message);
}

function showLoggedIn(yes) {
  $('login-view').hidden = yes;
  $('logout').hidden = !yes;
  $('connection').hidden = !yes;
  $('status-toggle').hidden = !yes || !state.login || !state.login.me.statusLivechat;
  $('tabs').hidden = !yes || !isManager();
  $('who').textContent = yes ? state.login.me.username : '';
  if (!yes) {
    $('agent-view').hidden = true;
    $('supervisor-view').hidden = true;
  } else {
    showView(state.view);
  }
}

async function start() {
  showLoggedIn(true);
  try {
    const departments = await api('GET', 'livechat/department?count=100');
    state.departments = new Map(departments.departments.map((d) => [d._id, d.name]));
  } catch (error) {
    notify(`Departments could not be read: ${error.message}`);
  }
  connect();
  clearInterval(state.statsTimer);
  if (isManager()) {
    refreshStats();
    state.statsTimer = setInterval(refreshStats, 5000);
  }
  render();
}

// ---- the stream -------------------------------------------------------------------------------

function setConnection(live, text) {
  const el = $('connection');
  el.textContent = text;
  el.classList.toggle('live', live);
}

async function connect() {
  if (!state.login) return;
  if (state.source) state.source.close();
  state.source = null;
  let ticket;
  try {
    ticket = (await api('POST', 'livechat/inquiries.streamTicket', {})).ticket;
  } catch (error) {
    return reconnectLater();
  }
  if (!state.login) return;
  const query = new URLSearchParams({ ticket });
  if (state.lastSeq !== null) query.set('lastEventId', String(state.lastSeq));
  const source = new EventSource(API + 'livechat/inquiries.stream?' + query);
  state.source = source;
  const seen = (event) => {
    if (event.lastEventId !== '') state.lastSeq = Number(event.lastEventId);
  };
  source.addEventListener('snapshot', (event) => {
    seen(event);
    const snapshot = JSON.parse(event.data);
    state.queueOrder = snapshot.queueOrder;
    state.inquiries = new Map(snapshot.inquiries.map((i) => [i._id, i]));
    state.agents = new Map(snapshot.agents.map((a) => [a._id, a]));
    live(source);
    render();
  });
  source.addEventListener('ready', (event) => { seen(event); live(source); });
  source.addEventListener('heartbeat', seen);
  source.addEventListener('agent', (event) => {
    seen(event);
    const agent = JSON.parse(event.data);
    if (agent.type === 'removed') state.agents.delete(agent._id);
    else state.agents.set(agent._id, agent);
    render();
  });
  source.onmessage = (event) => {
    seen(event);
    apply(JSON.parse(event.data));
    render();
    statsSoon();
  };
  source.onerror = () => {
    // Whatever broke (the server restarted, the ticket expired, the network): start over with
    // a fresh ticket and resume from the last event seen.
    source.close();
    if (state.source === source) {
      state.source = null;
      reconnectLater();
    }
  };
}

function live(source) {
  if (state.source !== source) return;
  state.retry = 0;
  setConnection(true, 'live');
}

function reconnectLater() {
  setConnection(false, 'reconnecting…');
  // Quick at first (a restart takes a moment), then backing off, with jitter so that many
  // consoles do not come back in step.
  const delay = Math.min(250 * 2 ** state.retry, 4000) + Math.random() * 250;
  state.retry += 1;
  setTimeout(connect, delay);
}

function apply(message) {
  const { type, event, ...inquiry } = message;
  if (type === 'removed' || inquiry.status === 'closed') {
    state.inquiries.delete(inquiry._id);
  } else {
    state.inquiries.set(inquiry._id, inquiry);
  }
}

// ---- rendering --------------------------------------------------------------------------------

const waitingStatuses = new Set(['queued', 'open']);

function since(ts) {
  return ts ? Date.parse(ts) : Date.now();
}

function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function departmentName(id) {
  if (!id) return 'Public';
  return state.departments.get(id) || id;
}

// The server says which field orders its queue (then queue age), as inquiries.queuedForUser does.
function queueKey(inquiry) {
  const age = since(inquiry.queuedAt || inquiry.ts);
  if (state.queueOrder === 'priorityWeight') return [inquiry.priorityWeight || 99, age];
  if (state.queueOrder === 'estimatedWaitingTimeQueue') return [inquiry.estimatedWaitingTimeQueue || 9999999, age];
  return [age, 0];
}

function compareKeys(a, b) {
  const ka = queueKey(a);
  const kb = queueKey(b);
  return ka[0] - kb[0] || ka[1] - kb[1] || (a._id < b._id ? -1 : 1);
}

function myQueue() {
  const me = state.login.userId;
  return [...state.inquiries.values()]
    .filter((i) => waitingStatuses.has(i.status))
    .filter((i) => !i.defaultAgent || i.defaultAgent.agentId === me)
    .sort(compareKeys);
}

function myOffers() {
  const me = state.login.userId;
  return [...state.inquiries.values()]
    .filter((i) => i.status === 'offered' && i.offer && i.offer.agent._id === me)
    .sort(compareKeys);
}

function myChats() {
  const me = state.login.userId;
  return [...state.inquiries.values()]
    .filter((i) => i.status === 'taken' && i.servedBy && i.servedBy._id === me)
    .sort((a, b) => since(a.takenAt) - since(b.takenAt));
}

function render() {
  if (!state.login) return;
  renderStatus();
  renderQueue();
  renderChats();
  if (isManager()) renderSupervisor();
}

function renderStatus() {
  const button = $('status-toggle');
  const me = state.agents.get(state.login.userId);
  const status = me ? me.statusLivechat : state.login.me.statusLivechat;
  if (!status) { button.hidden = true; return; }
  button.hidden = false;
  const available = status === 'available';
  button.textContent = available ? 'Available' : 'Not available';
  button.classList.toggle('available', available);
  button.setAttribute('aria-pressed', String(available));
}

function renderQueue() {
  // Offers to me first: accept or decline before they lapse.
  const offers = myOffers().map((inquiry) => {
    const name = inquiry.name || 'Visitor';
    const waitingSince = inquiry.queuedAt || inquiry.ts;
    return h('tr', { 'data-rid': inquiry.rid, 'data-id': inquiry._id, class: 'offer' },
      h('td', {}, 'offer'),
      h('td', {}, name),
      h('td', {}, departmentName(inquiry.department)),
      h('td', {}, inquiry.priorityWeight ? String(inquiry.priorityWeight) : '—'),
      h('td', { class: 'wait', 'data-since': waitingSince }, duration(Date.now() - since(waitingSince))),
      h('td', { class: 'actions' },
        h('button', { type: 'button', class: 'primary', 'data-action': 'accept', 'aria-label': `Accept the conversation with ${name}`,
          onclick: () => act('Accept', () => api('POST', 'livechat/inquiries.acceptOffer', { inquiryId: inquiry._id })) }, 'Accept'),
        ' ',
        h('button', { type: 'button', 'data-action': 'reject', 'aria-label': `Decline the conversation with ${name}`,
          onclick: () => act('Decline', () => api('POST', 'livechat/inquiries.rejectOffer', { inquiryId: inquiry._id })) }, 'Decline')));
  });
  const rows = myQueue().map((inquiry, index) => {
    const name = inquiry.name || inquiry.v?.username || 'Visitor';
    const waitingSince = inquiry.queuedAt || inquiry.ts;
    return h('tr', { 'data-rid': inquiry.rid, 'data-id': inquiry._id },
      h('td', {}, String(index + 1)),
      h('td', {}, name),
      h('td', {}, departmentName(inquiry.department)),
      h('td', {}, inquiry.priorityWeight ? String(inquiry.priorityWeight) : '—'),
      h('td', { class: 'wait', 'data-since': waitingSince }, duration(Date.now() - since(waitingSince))),
      h('td', {}, h('button', {
        type: 'button', class: 'primary', 'data-action': 'take', disabled: inquiry.status !== 'open',
        'aria-label': `Take the conversation with ${name}`,
        onclick: () => act('Take', async () => {
          const reply = await api('POST', 'livechat/inquiries.take', { inquiryId: inquiry._id });
          state.inquiries.set(reply.inquiry._id, reply.inquiry);
          render();
        }),
      }, 'Take')));
  });
  replaceRows('queue', offers.concat(rows));
  $('queue-count').textContent = String(rows.length + offers.length);
  $('queue-empty').hidden = rows.length + offers.length > 0;
}

function renderChats() {
  const departmentOptions = [...state.departments.entries()].sort((a, b) => a[1].localeCompare(b[1]));
  const rows = myChats().map((inquiry) => {
    const name = inquiry.name || 'Visitor';
    const select = h('select', { 'aria-label': `Department to forward ${name} to` },
      h('option', { value: '' }, 'Forward to…'),
      departmentOptions.filter(([id]) => id !== inquiry.department).map(([id, label]) => h('option', { value: id }, label)));
    return h('tr', { 'data-rid': inquiry.rid, 'data-id': inquiry._id },
      h('td', {}, name, inquiry.onHoldSince ? h('span', { class: 'pill' }, ' on hold') : null),
      h('td', {}, departmentName(inquiry.department)),
      h('td', { class: 'since', 'data-since': inquiry.takenAt }, duration(Date.now() - since(inquiry.takenAt))),
      h('td', { class: 'message' }, inquiry.lastMessage ? inquiry.lastMessage.msg.slice(0, 80) : ''),
      h('td', { class: 'actions' },
        h('button', { type: 'button', 'data-action': 'return', 'aria-label': `Return ${name} to the queue`,
          onclick: () => act('Return', () => api('POST', 'livechat/inquiries.returnAsInquiry', { roomId: inquiry.rid })) }, 'Return'),
        ' ', select, ' ',
        h('button', { type: 'button', 'data-action': 'forward', 'aria-label': `Forward ${name}`,
          onclick: () => act('Forward', async () => {
            if (!select.value) throw new Error('choose a department first');
            await api('POST', 'livechat/room.forward', { roomId: inquiry.rid, departmentId: select.value });
          }) }, 'Forward'),
        ' ',
        h('button', { type: 'button', 'data-action': 'close', 'aria-label': `Close the conversation with ${name}`,
          onclick: () => act('Close', () => api('POST', 'livechat/room.closeByUser', { rid: inquiry.rid })) }, 'Close')));
  });
  replaceRows('chats', rows);
  $('chats-count').textContent = String(rows.length);
  $('chats-empty').hidden = rows.length > 0;
}

/// Replaces a table's rows, keeping keyboard focus on the same row's same control.
function replaceRows(tableId, rows) {
  const body = $(tableId).tBodies[0];
  const focused = document.activeElement;
  let keep = null;
  if (focused && body.contains(focused)) {
    const row = focused.closest('tr');
    keep = { rid: row && row.dataset.rid, action: focused.dataset.action };
  }
  body.replaceChildren(...rows);
  if (keep) {
    const target = body.querySelector(`tr[data-rid="${CSS.escape(keep.rid || '')}"] [data-action="${keep.action}"]`)
      || body.querySelector('[data-action]');
    if (target) target.focus();
  }
}

// ---- supervisor -------------------------------------------------------------------------------

function statsSoon() {
  if (!isManager() || state.statsDue) return;
  state.statsDue = setTimeout(() => { state.statsDue = null; refreshStats(); }, 700);
}

async function refreshStats() {
  if (!state.login || !isManager()) return;
  try {
    state.stats = await api('GET', 'livechat/inquiries.stats');
    renderSupervisor();
  } catch (error) {
    // The stream shows the connection state; statistics retry on the next tick.
  }
}

function percent(value) {
  return value === null || value === undefined ? '—' : `${Math.round(value * 100)}%`;
}

function seconds(value) {
  return value === null || value === undefined ? '—' : duration(value * 1000);
}

function renderSupervisor() {
  const stats = state.stats;
  if (!stats) return;
  const now = stats.now;
  $('sl-threshold').textContent = String(stats.serviceLevelSeconds);
  const tile = (label, value, sub, attrs) => h('div', { class: 'tile', ...attrs },
    h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), h('div', { class: 'sub' }, sub || ''));
  const byDepartment = now.waitingByDepartment.map((d) => `${d.name || 'Public'} ${d.waiting}`).join(' · ');
  $('tiles').replaceChildren(
    tile('Waiting', String(now.waiting), byDepartment, { id: 'tile-waiting' }),
    tile('Longest wait', now.oldestWaitingSince ? duration(Date.now() - since(now.oldestWaitingSince)) : '—', 'oldest in queue',
      { 'data-since': now.oldestWaitingSince || '' }),
    tile('Agents available', `${now.agents.available} / ${now.agents.total}`, `${now.agents.eligible} can take more`),
    tile('Service level', percent(stats.windows.oneHour.serviceLevel), 'last hour'),
    tile('Taken', String(stats.windows.oneHour.taken), 'last hour'),
    tile('Abandoned', String(stats.windows.oneHour.abandoned), 'last hour'));

  const windows = [stats.windows.fiveMinutes, stats.windows.oneHour, stats.windows.today];
  const rows = [
    ['Entered', (w) => w.entered], ['Taken', (w) => w.taken], ['Closed', (w) => w.closed],
    ['Transferred', (w) => w.transferred], ['Returned', (w) => w.returned], ['Abandoned', (w) => w.abandoned],
    ['Average wait', (w) => seconds(w.waitSeconds.average)], ['Wait p50', (w) => seconds(w.waitSeconds.p50)],
    ['Wait p90', (w) => seconds(w.waitSeconds.p90)], ['Service level', (w) => percent(w.serviceLevel)],
  ].map(([label, value]) => h('tr', {}, h('th', { scope: 'row' }, label), windows.map((w) => h('td', {}, String(value(w))))));
  $('windows').tBodies[0].replaceChildren(...rows);
  $('chart').replaceChildren(chart(stats.lastHour));

  const board = now.agentLoads.slice().sort((a, b) => a.username.localeCompare(b.username)).map((agent) => {
    const share = agent.limit ? Math.min(1, agent.activeChats / agent.limit) : Math.min(1, agent.activeChats / 5);
    return h('tr', { 'data-agent': agent._id },
      h('td', {}, agent.username),
      h('td', {}, h('span', { class: `pill ${agent.statusLivechat}` }, agent.statusLivechat)),
      h('td', { class: 'since', 'data-since': agent.statusSince }, duration(Date.now() - since(agent.statusSince))),
      h('td', {}, h('span', { class: 'bar-load', role: 'img', 'aria-label': `${agent.activeChats} of ${agent.limit || 'unlimited'}` },
        h('span', { style: `width:${Math.round(share * 100)}%` })), `${agent.activeChats} / ${agent.limit || '∞'}`));
  });
  $('board').tBodies[0].replaceChildren(...board);
  renderAll();
}

function renderAll() {
  const all = [...state.inquiries.values()].sort((a, b) => since(a.queuedAt || a.ts) - since(b.queuedAt || b.ts));
  const rows = all.map((inquiry) => h('tr', { 'data-rid': inquiry.rid },
    h('td', {}, inquiry.name || 'Visitor'),
    h('td', {}, departmentName(inquiry.department)),
    h('td', {}, h('span', { class: `pill ${inquiry.status}` }, inquiry.status)),
    h('td', {}, inquiry.servedBy ? inquiry.servedBy.username : (inquiry.offer ? `${inquiry.offer.agent.username}?` : '')),
    h('td', { class: 'age', 'data-since': inquiry.queuedAt || inquiry.ts }, duration(Date.now() - since(inquiry.queuedAt || inquiry.ts))),
    h('td', {}, h('button', { type: 'button', 'data-action': 'history', 'aria-label': `Why: the history of ${inquiry.name || 'this conversation'}`,
      onclick: () => showHistory(inquiry) }, 'History'))));
  replaceRows('all', rows);
  $('all-count').textContent = String(rows.length);
}

function chart(points) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 600 180');
  svg.setAttribute('role', 'img');
  const last = points[points.length - 1];
  svg.setAttribute('aria-label', `Queue length and service level over the last hour; now ${last ? last.waiting : 0} waiting`);
  const el = (tag, attrs, text) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    svg.append(node);
    return node;
  };
  const left = 34, right = 566, top = 10, bottom = 160;
  const max = Math.max(1, ...points.map((p) => p.waiting));
  const x = (i) => left + (points.length <= 1 ? 0 : (i / (points.length - 1)) * (right - left));
  const y = (v) => bottom - (v / max) * (bottom - top);
  const ySl = (v) => bottom - v * (bottom - top);
  el('line', { class: 'axis', x1: left, y1: bottom, x2: right, y2: bottom });
  el('line', { class: 'axis', x1: left, y1: top, x2: left, y2: bottom });
  el('text', { x: 4, y: top + 8 }, String(max));
  el('text', { x: 4, y: bottom }, '0');
  el('text', { x: right + 4, y: top + 8 }, '100%');
  el('text', { x: left, y: 176 }, '−60 min');
  el('text', { x: right - 20, y: 176 }, 'now');
  el('polyline', { class: 'line-waiting', points: points.map((p, i) => `${x(i)},${y(p.waiting)}`).join(' ') });
  const sl = points.map((p, i) => (p.serviceLevel === null ? null : [x(i), ySl(p.serviceLevel)])).filter(Boolean);
  if (sl.length > 1) el('polyline', { class: 'line-sl', points: sl.map(([a, b]) => `${a},${b}`).join(' ') });
  for (const [a, b] of sl) el('circle', { class: 'dot-sl', cx: a, cy: b, r: 2.5 });
  return svg;
}

async function showHistory(inquiry) {
  const dialog = $('history');
  $('history-title').textContent = `History: ${inquiry.name || inquiry._id}`;
  const list = $('history-list');
  list.replaceChildren(h('li', {}, 'Loading…'));
  if (!dialog.open) dialog.showModal();
  try {
    const reply = await api('GET', `livechat/inquiries.history?inquiryId=${encodeURIComponent(inquiry._id)}`);
    list.replaceChildren(...reply.events.map(describe));
  } catch (error) {
    list.replaceChildren(h('li', {}, `The history could not be read: ${error.message}`));
  }
}

function describe(event) {
  const kind = event.kind || {};
  const who = event.actor.type === 'user' ? (state.agents.get(event.actor.id)?.username || event.actor.id) : event.actor.type;
  let what = kind.what;
  let why = '';
  if (kind.what === 'transition') {
    what = kind.transition;
    if (kind.agent) what += ` → ${state.agents.get(kind.agent)?.username || kind.agent}`;
    if (kind.department) what += ` (${departmentName(kind.department)})`;
    why = kind.reason || '';
  } else if (kind.what === 'routed') {
    what = `routed to ${state.agents.get(kind.agent)?.username || kind.agent} (${kind.strategy})`;
    const candidates = (kind.candidates || []).map(([id, load, limit]) => `${state.agents.get(id)?.username || id} ${load}/${limit || '∞'}`);
    const more = (kind.considered || 0) > candidates.length ? ` and ${kind.considered - candidates.length} more` : '';
    why = `${kind.reason}${candidates.length ? '; candidates: ' + candidates.join(', ') + more : ''}`;
  } else if (kind.what === 'timer-fired') {
    what = `timer ${kind.rule} (due ${new Date(kind.due).toLocaleTimeString()})`;
    why = kind.outcome;
  } else if (kind.what === 'no-agent-found') {
    what = `no agent found (${kind.strategy})`;
    why = kind.reason;
  } else if (kind.what === 'enqueued') {
    what = `entered the queue (${departmentName(kind.department)})`;
  }
  return h('li', {}, h('time', { datetime: event.at }, new Date(event.at).toLocaleTimeString()), `${what} — by ${who}`,
    why ? h('span', { class: 'why' }, why) : null);
}

// ---- views, clock, keys -----------------------------------------------------------------------

function showView(view) {
  if (view === 'supervisor' && !isManager()) view = 'agent';
  state.view = view;
  $('agent-view').hidden = view !== 'agent';
  $('supervisor-view').hidden = view !== 'supervisor';
  for (const tab of document.querySelectorAll('#tabs [role="tab"]')) {
    tab.setAttribute('aria-selected', String(tab.dataset.view === view));
  }
  if (view === 'supervisor') refreshStats();
}

function tick() {
  for (const cell of document.querySelectorAll('[data-since]')) {
    const value = cell.dataset.since;
    if (!value) continue;
    const ms = Date.now() - since(value);
    const target = cell.classList.contains('tile') ? cell.querySelector('.value') : cell;
    target.textContent = duration(ms);
    if (cell.classList.contains('wait')) cell.classList.toggle('late', ms > 60000);
  }
}

function moveInQueue(step) {
  const buttons = [...$('queue').querySelectorAll('button[data-action="take"]')];
  if (!buttons.length) return;
  const index = buttons.indexOf(document.activeElement);
  const next = index < 0 ? 0 : Math.max(0, Math.min(buttons.length - 1, index + step));
  buttons[next].focus();
}

document.addEventListener('keydown', (event) => {
  if (!state.login || event.ctrlKey || event.metaKey || event.altKey) return;
  const typing = ['INPUT', 'SELECT', 'TEXTAREA'].includes(document.activeElement?.tagName);
  if (typing || $('history').open) return;
  if (event.key === '1') showView('agent');
  else if (event.key === '2') showView('supervisor');
  else if (event.key === 'j') moveInQueue(1);
  else if (event.key === 'k') moveInQueue(-1);
  else if (event.key === 't' && document.activeElement?.dataset.action === 'take') document.activeElement.click();
  else return;
  event.preventDefault();
});

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  act('Sign-in', () => signIn($('username').value.trim(), $('password').value));
});
$('logout').addEventListener('click', () => signOut());
$('status-toggle').addEventListener('click', () => act('Status change', async () => {
  const me = state.agents.get(state.login.userId);
  const current = me ? me.statusLivechat : state.login.me.statusLivechat;
  const next = current === 'available' ? 'not-available' : 'available';
  await api('POST', 'livechat/agent.status', { status: next });
  if (me) state.agents.set(me._id, { ...me, statusLivechat: next });
  else state.login.me.statusLivechat = next;
  render();
}));
for (const tab of document.querySelectorAll('#tabs [role="tab"]')) {
  tab.addEventListener('click', () => showView(tab.dataset.view));
}
setInterval(tick, 1000);

const saved = sessionStorage.getItem('lobby-login');
if (saved) {
  state.login = JSON.parse(saved);
  start();
} else {
  showLoggedIn(false);
}
