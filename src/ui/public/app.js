// Herald admin: a small hash-routed app over the Admin API (staff session cookie, same origin).
// Every element is built with h(), which only ever creates text nodes from data: user content
// is never parsed as HTML.
import {EVENT_NAMES} from './events.js';

const API = '/ghost/api/admin';

// ---------------------------------------------------------------- DOM helpers

/** Creates an element. attrs: class, for, on<event> handlers, booleans, value, anything else as an attribute. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'value') el.value = value;
    else if (key === 'checked') el.checked = Boolean(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

let uid = 0;
/** A labelled form field: returns the wrapper; the control gets a fresh id tied to its <label>. */
function field(labelText, control, hint) {
  const id = control.id || `f${++uid}`;
  control.id = id;
  const hintEl = hint ? h('p', {class: 'hint', id: `${id}-hint`}, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', {class: 'field'}, h('label', {for: id}, labelText), control, hintEl);
}

const ICONS = {
  posts: 'M5 4h10l4 4v12H5z M15 4v4h4 M8 12h8 M8 16h6',
  pages: 'M6 3h12v18H6z M9 7h6 M9 11h6 M9 15h4',
  tags: 'M3 12V4h8l10 10-8 8z M7.5 7.5h.01',
  members: 'M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z M2 21c0-4 3-6 7-6s7 2 7 6 M16 3.5a4 4 0 0 1 0 7.5 M22 21c0-3-1.5-5-4-5.7',
  settings: 'M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z M19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-2.9 1.2V21a2 2 0 1 1-4 0v-.1a1.7 1.7 0 0 0-2.9-1.2l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1A1.7 1.7 0 0 0 3 14H3a2 2 0 1 1 0-4h.1a1.7 1.7 0 0 0 1.2-2.9l-.1-.1a2 2 0 1 1 2.8-2.8l.1.1A1.7 1.7 0 0 0 10 3.1V3a2 2 0 1 1 4 0v.1a1.7 1.7 0 0 0 2.9 1.2l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0 1.2 2.9H21a2 2 0 1 1 0 4h-.1a1.7 1.7 0 0 0-1.5.9z',
  signout: 'M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4 M16 17l5-5-5-5 M21 12H9',
};

function icon(name) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  path.setAttribute('d', ICONS[name]);
  svg.append(path);
  return svg;
}

// ---------------------------------------------------------------- API

/** An Admin API error, from Ghost's {"errors":[…]} envelope. */
class ApiError extends Error {
  constructor(status, first) {
    super(first?.message || `The server answered ${status}.`);
    this.status = status;
    this.type = first?.type ?? null;
    this.context = first?.context ?? null;
    this.property = first?.property ?? null;
  }
}

/** Calls the Admin API; resolves to the parsed JSON (null for 204), rejects with ApiError. */
async function api(method, path, body) {
  let response;
  try {
    response = await fetch(API + path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {accept: 'application/json'} : {accept: 'application/json', 'content-type': 'application/json'},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, {message: 'Could not reach the server.', context: 'Check your connection and try again.'});
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, json?.errors?.[0]);
    // A lost session (expired, signed out elsewhere): back to the sign-in page.
    if (response.status === 403 && error.type === 'NoPermissionError' && /Authorization failed/.test(error.message)) {
      session.signedIn = false;
      go('#/signin');
    }
    throw error;
  }
  return json;
}

/** The error as one or two lines of text for the user. */
function errorText(error) {
  if (error instanceof ApiError) {
    const lines = [error.message];
    if (error.context && error.context !== error.message) lines.push(error.context);
    return lines;
  }
  return [String(error?.message ?? error)];
}

/** An alert box showing an error (role=alert, so screen readers announce it). */
function errorBox(error) {
  const [first, ...rest] = errorText(error);
  return h('div', {class: 'alert alert-error', role: 'alert'}, h('strong', null, first), rest.map((line) => h('span', null, line)));
}

/** Puts an error into a form's alert slot (clears it with null). */
function showFormError(slot, error) {
  slot.replaceChildren();
  if (error) slot.append(errorBox(error));
}

/** Runs an action from a button: disables it meanwhile, shows an API error in `slot` (or as a toast). */
async function run(button, slot, action) {
  if (button) button.disabled = true;
  if (slot) showFormError(slot, null);
  try {
    return await action();
  } catch (error) {
    if (slot) showFormError(slot, error);
    else toast(errorText(error).join(' '), 'error');
    return undefined;
  } finally {
    if (button && button.isConnected) button.disabled = false;
  }
}

function toast(text, kind = 'success') {
  const el = h('div', {class: `toast ${kind === 'error' ? 'error' : ''}`, role: kind === 'error' ? 'alert' : 'status'}, text);
  const box = document.getElementById('toasts');
  box.append(el);
  // Only the newest few stay on screen.
  while (box.children.length > 3) box.firstElementChild.remove();
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 4000);
}

// ---------------------------------------------------------------- formatting

const dateTime = new Intl.DateTimeFormat('en-GB', {day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit'});

function formatTime(iso) {
  return iso ? dateTime.format(new Date(iso)) : '—';
}

function ago(iso) {
  if (!iso) return 'Never';
  const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  const future = seconds < 0;
  const s = Math.abs(seconds);
  const [n, unit] = s < 45 ? [0, ''] : s < 3600 ? [Math.round(s / 60), 'minute'] : s < 86400 ? [Math.round(s / 3600), 'hour'] : [Math.round(s / 86400), 'day'];
  if (n === 0) return future ? 'in a few seconds' : 'just now';
  const text = `${n} ${unit}${n === 1 ? '' : 's'}`;
  return future ? `in ${text}` : `${text} ago`;
}

function timeEl(iso, text) {
  return iso ? h('time', {datetime: iso, title: formatTime(iso)}, text ?? ago(iso)) : h('span', {class: 'muted'}, text ?? 'Never');
}

/** `datetime-local` value for a date, in the browser's time zone. */
function localInputValue(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function prettyJson(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text ?? '';
  }
}

function initial(name) {
  return (name || '?').trim().charAt(0).toUpperCase() || '?';
}

// ---------------------------------------------------------------- events

/** Ghost's wording for each event, grouped as Ghost's webhook form groups them. */
const EVENT_GROUPS = [
  ['Global', {'site.changed': 'Site changed (rebuild)'}],
  ['Posts', {'post.added': 'Post created', 'post.deleted': 'Post deleted', 'post.edited': 'Post updated', 'post.published': 'Post published', 'post.published.edited': 'Published post updated', 'post.unpublished': 'Post unpublished', 'post.scheduled': 'Post scheduled', 'post.unscheduled': 'Post unscheduled', 'post.rescheduled': 'Post rescheduled'}],
  ['Pages', {'page.added': 'Page created', 'page.deleted': 'Page deleted', 'page.edited': 'Page updated', 'page.published': 'Page published', 'page.published.edited': 'Published page updated', 'page.unpublished': 'Page unpublished', 'page.scheduled': 'Page scheduled', 'page.unscheduled': 'Page unscheduled', 'page.rescheduled': 'Page rescheduled'}],
  ['Tags', {'tag.added': 'Tag created', 'tag.edited': 'Tag updated', 'tag.deleted': 'Tag deleted', 'post.tag.attached': 'Tag added to post', 'post.tag.detached': 'Tag removed from post', 'page.tag.attached': 'Tag added to page', 'page.tag.detached': 'Tag removed from page'}],
  ['Members', {'member.added': 'Member added', 'member.edited': 'Member updated', 'member.deleted': 'Member deleted'}],
];
const EVENT_LABELS = Object.assign({}, ...EVENT_GROUPS.map(([, labels]) => labels));

function eventLabel(name) {
  return EVENT_LABELS[name] ?? name;
}

/** The grouped select of every event the server knows (option values are the event names). */
function eventSelect(selected) {
  const known = new Set(EVENT_NAMES);
  const listed = new Set();
  const select = h('select', {name: 'event', required: true}, h('option', {value: ''}, 'Select an event'));
  for (const [group, labels] of EVENT_GROUPS) {
    const names = Object.keys(labels).filter((name) => known.has(name));
    names.forEach((name) => listed.add(name));
    select.append(h('optgroup', {label: group}, names.map((name) => h('option', {value: name, selected: name === selected}, `${labels[name]} (${name})`))));
  }
  const others = EVENT_NAMES.filter((name) => !listed.has(name));
  if (others.length) select.append(h('optgroup', {label: 'Other'}, others.map((name) => h('option', {value: name, selected: name === selected}, name))));
  return select;
}

// ---------------------------------------------------------------- modals

/**
 * Opens a modal <dialog> with a form. `submit(form, slot)` runs on submit; a resolved value
 * other than false closes the modal and resolves the returned promise with it.
 */
function modal({title, fields, submitLabel, submitClass = 'btn-primary', submit, danger = false}) {
  return new Promise((resolve) => {
    const slot = h('div');
    const submitButton = h('button', {type: 'submit', class: danger ? 'btn-red' : submitClass}, submitLabel);
    const form = h('form', {class: 'modal-body', novalidate: true}, h('h2', null, title), slot, fields, h('div', {class: 'modal-actions'}, h('button', {type: 'button', onclick: () => close(undefined)}, 'Cancel'), submitButton));
    const dialog = h('dialog', {'aria-label': title}, form);
    let result;
    const close = (value) => {
      result = value;
      dialog.close();
    };
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(result);
    });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const value = await run(submitButton, slot, () => submit(form, slot));
      if (value !== undefined && value !== false) close(value);
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = form.querySelector('input, select, textarea');
    (first ?? submitButton).focus();
  });
}

/** A yes/no question in a modal; resolves true when confirmed. */
async function confirmModal(title, message, confirmLabel, danger = true) {
  const answer = await modal({title, fields: h('p', null, message), submitLabel: confirmLabel, danger, submit: async () => true});
  return answer === true;
}

// ---------------------------------------------------------------- router and shell

const session = {checked: false, setup: false, signedIn: false};
let siteTitle = '';
let renderToken = 0;
let lastPath = '';

/** Navigates to `hash` (a new history entry) and resolves once that page is on screen. */
function go(hash) {
  if (location.hash !== hash) history.pushState(null, '', hash);
  return render();
}

function currentRoute() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?');
  return {path: path.replace(/\/+$/, '') || '/', query: new URLSearchParams(query)};
}

const ROUTES = [
  [/^\/setup$/, () => setupView(), 'auth'],
  [/^\/signin$/, () => signinView(), 'auth'],
  [/^\/$/, () => redirect('#/posts')],
  [/^\/(posts|pages)$/, (m, q) => postsView(m[1], q), 'content'],
  [/^\/(posts|pages)\/new$/, (m) => postEditorView(m[1], null), 'content'],
  [/^\/(posts|pages)\/([0-9a-f]{24})$/, (m) => postEditorView(m[1], m[2]), 'content'],
  [/^\/tags$/, (m, q) => tagsView(q), 'tags'],
  [/^\/tags\/new$/, () => tagEditorView(null), 'tags'],
  [/^\/tags\/([0-9a-f]{24})$/, (m) => tagEditorView(m[1]), 'tags'],
  [/^\/members$/, (m, q) => membersView(q), 'members'],
  [/^\/members\/new$/, () => memberEditorView(null), 'members'],
  [/^\/members\/([0-9a-f]{24})$/, (m) => memberEditorView(m[1]), 'members'],
  [/^\/settings$/, () => redirect('#/settings/general')],
  [/^\/settings\/general$/, () => generalSettingsView(), 'settings'],
  [/^\/settings\/integrations$/, () => integrationsView(), 'settings'],
  [/^\/settings\/integrations\/([0-9a-f]{24})$/, (m) => integrationView(m[1]), 'settings'],
  [/^\/webhooks\/([0-9a-f]{24})$/, (m, q) => webhookView(m[1], q), 'settings'],
  [/^\/deliveries\/([0-9a-f]{24})$/, (m) => deliveryView(m[1]), 'settings'],
];

function redirect(hash) {
  location.replace(hash);
  return null;
}

async function checkSession() {
  const response = await fetch('/ghost/ui/session/', {credentials: 'same-origin', headers: {accept: 'application/json'}});
  const body = await response.json();
  session.checked = true;
  session.setup = body.setup;
  session.signedIn = body.signed_in;
}

async function loadSite() {
  try {
    const body = await api('GET', '/site/');
    siteTitle = body.site.title || 'Herald';
  } catch {
    siteTitle = 'Herald';
  }
}

async function render() {
  const token = ++renderToken;
  const root = document.getElementById('app');
  try {
    if (!session.checked) await checkSession();
  } catch (error) {
    root.replaceChildren(h('div', {class: 'auth'}, h('div', {class: 'auth-box'}, errorBox(error))));
    return;
  }
  const {path, query} = currentRoute();
  // Leaving a page (say, with the Back button) closes its open modal.
  if (path !== lastPath) document.querySelectorAll('dialog').forEach((d) => d.close());
  if (!session.setup && path !== '/setup') return redirect('#/setup');
  if (session.setup && !session.signedIn && path !== '/signin') return redirect('#/signin');
  if (session.signedIn && (path === '/signin' || path === '/setup')) return redirect('#/posts');

  const route = ROUTES.find(([pattern]) => pattern.test(path));
  if (!route) return redirect('#/posts');
  const [pattern, view, section] = route;
  const match = pattern.exec(path);

  let content;
  try {
    content = await view(match, query);
  } catch (error) {
    content = h('div', null, errorBox(error), h('p', null, h('a', {href: '#/posts'}, 'Back to posts')));
  }
  if (token !== renderToken || content === null) return;
  if (section === 'auth') {
    root.replaceChildren(content);
  } else {
    if (!siteTitle) await loadSite();
    if (token !== renderToken) return;
    root.replaceChildren(shell(section, path, content));
  }
  const heading = root.querySelector('h1');
  document.title = heading ? `${heading.textContent} — ${siteTitle || 'Herald'}` : 'Herald Admin';
  // A new page starts at the top; the same page re-rendered after an action keeps its place.
  if (path !== lastPath) window.scrollTo(0, 0);
  lastPath = path;
}

function shell(section, path, content) {
  const link = (href, name, text, current) => h('li', null, h('a', {href, 'aria-current': current ? 'page' : null}, icon(name), h('span', {class: 'label-text'}, text)));
  const signOut = h('button', {type: 'button', class: 'nav-button', onclick: () => run(signOut, null, async () => {
    await api('DELETE', '/session/');
    session.signedIn = false;
    await go('#/signin');
    toast('Signed out.');
  })}, icon('signout'), h('span', {class: 'label-text'}, 'Sign out'));
  return h('div', {class: 'shell'},
    h('header', {class: 'sidebar'}, h('div', {class: 'sidebar-inner'},
      h('a', {class: 'brand', href: '#/posts'}, h('span', {class: 'brand-icon', 'aria-hidden': 'true'}, initial(siteTitle)), h('span', {class: 'brand-name'}, siteTitle)),
      h('nav', {'aria-label': 'Main'}, h('ul', {class: 'nav'},
        link('#/posts', 'posts', 'Posts', path.startsWith('/posts')),
        link('#/pages', 'pages', 'Pages', path.startsWith('/pages')),
        link('#/tags', 'tags', 'Tags', section === 'tags'),
        link('#/members', 'members', 'Members', section === 'members'),
      )),
      h('div', {class: 'sidebar-foot'},
        h('ul', {class: 'nav'}, link('#/settings/general', 'settings', 'Settings', section === 'settings')),
        signOut,
      ),
    )),
    h('main', {class: 'main', id: 'main'}, content),
  );
}

/** A page header: breadcrumbs, title, lead text and actions on the right. */
function pageHead({crumbs = [], title, lead, actions = []}) {
  const trail = crumbs.length
    ? h('nav', {class: 'crumbs', 'aria-label': 'Breadcrumb'}, crumbs.map(([text, href], i) => [i ? h('span', {'aria-hidden': 'true'}, '›') : null, href ? h('a', {href}, text) : h('span', null, text)]))
    : null;
  return h('div', {class: 'page-head'}, h('div', null, trail, h('h1', null, title), lead ? h('p', {class: 'lead'}, lead) : null), h('div', {class: 'actions'}, actions));
}

function pager(pagination, query, basePath) {
  if (!pagination || pagination.pages <= 1) return null;
  const to = (page) => {
    const q = new URLSearchParams(query);
    q.set('page', String(page));
    return `#${basePath}?${q}`;
  };
  return h('nav', {class: 'pager', 'aria-label': 'Pagination'},
    h('span', null, `Page ${pagination.page} of ${pagination.pages} · ${pagination.total} in all`),
    h('span', {class: 'actions'},
      pagination.prev ? h('a', {class: 'btn btn-small', href: to(pagination.prev)}, '← Newer') : null,
      pagination.next ? h('a', {class: 'btn btn-small', href: to(pagination.next)}, 'Older →') : null,
    ),
  );
}

function table(headers, rows, emptyText) {
  if (!rows.length) return h('div', {class: 'table-wrap'}, h('p', {class: 'empty'}, emptyText));
  return h('div', {class: 'table-wrap'}, h('table', null,
    h('thead', null, h('tr', null, headers.map((text) => (Array.isArray(text) ? h('th', {scope: 'col', class: text[1]}, text[0]) : h('th', {scope: 'col'}, text))))),
    h('tbody', null, rows),
  ));
}

// ---------------------------------------------------------------- setup and sign-in

function authPage(title, lead, form) {
  return h('main', {class: 'auth'}, h('div', {class: 'auth-box'}, h('div', {class: 'brand-icon', 'aria-hidden': 'true'}, 'H'), h('h1', null, title), h('p', {class: 'lead'}, lead), form));
}

function setupView() {
  if (session.setup) return redirect('#/signin');
  const slot = h('div');
  const title = h('input', {type: 'text', name: 'blogTitle', autocomplete: 'off', placeholder: 'The Daily Awesome'});
  const name = h('input', {type: 'text', name: 'name', autocomplete: 'name', required: true, placeholder: 'Jamie Larson'});
  const email = h('input', {type: 'email', name: 'email', autocomplete: 'email', required: true, placeholder: 'jamie@example.com'});
  const password = h('input', {type: 'password', name: 'password', autocomplete: 'new-password', required: true});
  const button = h('button', {type: 'submit', class: 'btn-green'}, 'Create account & start publishing →');
  const form = h('form', {novalidate: true, onsubmit: (event) => {
    event.preventDefault();
    run(button, slot, async () => {
      await api('POST', '/authentication/setup/', {setup: [{name: name.value, email: email.value, password: password.value, blogTitle: title.value}]});
      await api('POST', '/session/', {username: email.value, password: password.value});
      Object.assign(session, {setup: true, signedIn: true});
      siteTitle = '';
      await go('#/posts');
      toast('Your site is set up. Welcome!');
    });
  }}, slot, field('Site title', title), field('Full name', name), field('Email address', email), field('Password', password, 'At least 10 characters.'), button);
  return authPage('Create your account', 'Set up your site and its owner account. You will be signed in straight away.', form);
}

function signinView() {
  const slot = h('div');
  const email = h('input', {type: 'email', name: 'username', autocomplete: 'username', required: true});
  const password = h('input', {type: 'password', name: 'password', autocomplete: 'current-password', required: true});
  const button = h('button', {type: 'submit', class: 'btn-primary'}, 'Sign in →');
  const form = h('form', {novalidate: true, onsubmit: (event) => {
    event.preventDefault();
    run(button, slot, async () => {
      await api('POST', '/session/', {username: email.value, password: password.value});
      session.signedIn = true;
      siteTitle = '';
      document.getElementById('toasts').replaceChildren();
      go('#/posts');
    });
  }}, slot, field('Email address', email), field('Password', password), button);
  return authPage('Welcome back', 'Sign in to your Herald admin.', form);
}

// ---------------------------------------------------------------- posts and pages

const STATUS_PILL = {draft: ['Draft', 'red'], published: ['Published', 'green'], scheduled: ['Scheduled', 'blue']};

function statusPill(status) {
  const [text, colour] = STATUS_PILL[status] ?? [status, ''];
  return h('span', {class: `pill ${colour}`}, text);
}

async function postsView(plural, query) {
  const noun = plural === 'posts' ? 'post' : 'page';
  const page = Number(query.get('page')) || 1;
  const body = await api('GET', `/${plural}/?limit=15&page=${page}&order=updated_at%20desc&fields=id,title,status,published_at,updated_at`);
  const rows = body[plural].map((post) => h('tr', null,
    h('td', {class: 'title'}, h('a', {href: `#/${plural}/${post.id}`}, post.title || '(Untitled)')),
    h('td', null, statusPill(post.status), post.status === 'scheduled' ? h('span', {class: 'sub'}, `for ${formatTime(post.published_at)}`) : null),
    h('td', {class: 'nowrap'}, timeEl(post.updated_at)),
  ));
  return h('div', null,
    pageHead({title: plural === 'posts' ? 'Posts' : 'Pages', actions: [h('a', {class: 'btn btn-primary', href: `#/${plural}/new`}, `New ${noun}`)]}),
    table(['Title', 'Status', 'Updated'], rows, `No ${plural} yet. Create your first ${noun}.`),
    pager(body.meta?.pagination, query, `/${plural}`),
  );
}

async function postEditorView(plural, id) {
  const noun = plural === 'posts' ? 'post' : 'page';
  const Noun = noun[0].toUpperCase() + noun.slice(1);
  const post = id ? (await api('GET', `/${plural}/${id}/?formats=html`))[plural][0] : null;
  const status = post?.status ?? 'new';
  const slot = h('div');
  const title = h('input', {type: 'text', name: 'title', value: post?.title ?? '', placeholder: `${Noun} title`});
  const content = h('textarea', {name: 'html', placeholder: 'Begin writing your story…'});
  content.value = post?.html ?? '';
  const tags = h('input', {type: 'text', name: 'tags', value: (post?.tags ?? []).map((t) => t.name).join(', '), placeholder: 'News, Updates'});
  const when = h('input', {type: 'datetime-local', name: 'published_at', value: post?.published_at && post.status === 'scheduled' ? localInputValue(new Date(post.published_at)) : ''});

  const fields = () => {
    const out = {title: title.value, html: content.value, tags: tags.value.split(',').map((t) => t.trim()).filter(Boolean)};
    if (post) out.updated_at = post.updated_at;
    return out;
  };
  const save = (button, extra, message) => run(button, slot, async () => {
    const item = {...fields(), ...extra};
    const body = post
      ? await api('PUT', `/${plural}/${post.id}/?source=html`, {[plural]: [item]})
      : await api('POST', `/${plural}/?source=html`, {[plural]: [item]});
    const saved = body[plural][0];
    await go(`#/${plural}/${saved.id}`);
    toast(message);
  });
  const scheduleAt = () => {
    if (!when.value) throw new Error('Choose a publish date and time to schedule.');
    return new Date(when.value).toISOString();
  };

  const buttons = [];
  const button = (label, cls, onclick) => {
    const b = h('button', {type: 'button', class: cls, onclick: () => onclick(b)}, label);
    buttons.push(b);
  };
  if (status === 'new' || status === 'draft') {
    button('Save draft', '', (b) => save(b, {status: 'draft'}, `${Noun} saved as a draft.`));
    button('Publish', 'btn-green', (b) => save(b, {status: 'published'}, `${Noun} published.`));
    button('Schedule', 'btn-primary', (b) => run(b, slot, async () => save(b, {status: 'scheduled', published_at: scheduleAt()}, `${Noun} scheduled.`)));
  } else if (status === 'scheduled') {
    button('Update', 'btn-primary', (b) => run(b, slot, async () => save(b, when.value ? {published_at: scheduleAt()} : {}, `${Noun} updated.`)));
    button('Publish now', 'btn-green', (b) => save(b, {status: 'published', published_at: new Date().toISOString()}, `${Noun} published.`));
    button('Unschedule', '', (b) => save(b, {status: 'draft'}, `${Noun} reverted to a draft.`));
  } else if (status === 'published') {
    button('Update', 'btn-green', (b) => save(b, {}, `${Noun} updated.`));
    button('Unpublish', '', (b) => save(b, {status: 'draft'}, `${Noun} unpublished.`));
  }
  if (post) {
    button(`Delete ${noun}`, 'btn-danger', async (b) => {
      if (!(await confirmModal(`Delete ${noun}`, `“${post.title || 'Untitled'}” will be deleted permanently.`, `Delete ${noun}`))) return;
      await run(b, slot, async () => {
        await api('DELETE', `/${plural}/${post.id}/`);
        await go(`#/${plural}`);
        toast(`${Noun} deleted.`);
      });
    });
  }

  return h('div', null,
    pageHead({
      crumbs: [[plural === 'posts' ? 'Posts' : 'Pages', `#/${plural}`], [post ? 'Edit' : 'New']],
      title: post ? post.title || '(Untitled)' : `New ${noun}`,
      lead: post ? null : `Write a ${noun}, then save it as a draft, publish it or schedule it.`,
      actions: post ? [statusPill(post.status), post.status === 'scheduled' ? h('span', {class: 'muted small'}, `for ${formatTime(post.published_at)}`) : null, post.status === 'published' && post.url ? h('span', {class: 'muted small mono'}, post.url) : null] : [],
    }),
    slot,
    h('form', {class: 'card', novalidate: true, onsubmit: (e) => e.preventDefault()},
      field('Title', title),
      field('Content (HTML)', content),
      h('div', {class: 'row'},
        field('Tags', tags, 'Comma-separated; new tags are created.'),
        field('Publish date', when, post?.status === 'published' ? `Published ${formatTime(post.published_at)}.` : 'Needed to schedule; your local time.'),
      ),
      h('div', {class: 'form-actions'}, buttons),
    ),
  );
}

// ---------------------------------------------------------------- tags

async function tagsView(query) {
  const page = Number(query.get('page')) || 1;
  const body = await api('GET', `/tags/?limit=15&page=${page}&order=name%20asc`);
  const rows = body.tags.map((tag) => h('tr', null,
    h('td', {class: 'title'}, h('a', {href: `#/tags/${tag.id}`}, tag.name), tag.description ? h('span', {class: 'sub'}, tag.description) : null),
    h('td', {class: 'mono'}, tag.slug),
    h('td', {class: 'nowrap hide-phone'}, timeEl(tag.updated_at)),
  ));
  return h('div', null,
    pageHead({title: 'Tags', actions: [h('a', {class: 'btn btn-primary', href: '#/tags/new'}, 'New tag')]}),
    table(['Name', 'Slug', ['Updated', 'hide-phone']], rows, 'No tags yet.'),
    pager(body.meta?.pagination, query, '/tags'),
  );
}

async function tagEditorView(id) {
  const tag = id ? (await api('GET', `/tags/${id}/`)).tags[0] : null;
  const slot = h('div');
  const name = h('input', {type: 'text', name: 'name', value: tag?.name ?? '', required: true});
  const slug = h('input', {type: 'text', name: 'slug', value: tag?.slug ?? ''});
  const description = h('textarea', {name: 'description', rows: 3, class: 'short'});
  description.value = tag?.description ?? '';
  const saveButton = h('button', {type: 'submit', class: 'btn-green'}, tag ? 'Save tag' : 'Create tag');
  const form = h('form', {class: 'card', novalidate: true, onsubmit: (event) => {
    event.preventDefault();
    run(saveButton, slot, async () => {
      const item = {name: name.value, description: description.value || null};
      if (slug.value.trim()) item.slug = slug.value.trim();
      const body = tag ? await api('PUT', `/tags/${tag.id}/`, {tags: [item]}) : await api('POST', '/tags/', {tags: [item]});
      await go(`#/tags/${body.tags[0].id}`);
      toast(tag ? 'Tag saved.' : 'Tag created.');
    });
  }}, field('Name', name), field('Slug', slug, tag ? null : 'Leave empty to make one from the name.'), field('Description', description),
  h('div', {class: 'form-actions'}, saveButton, tag ? h('button', {type: 'button', class: 'btn-danger', onclick: async (event) => {
    const b = event.currentTarget;
    if (!(await confirmModal('Delete tag', `The tag “${tag.name}” will be removed from every post and deleted.`, 'Delete tag'))) return;
    await run(b, slot, async () => {
      await api('DELETE', `/tags/${tag.id}/`);
      await go('#/tags');
      toast('Tag deleted.');
    });
  }}, 'Delete tag') : null));
  return h('div', null, pageHead({crumbs: [['Tags', '#/tags'], [tag ? 'Edit' : 'New']], title: tag ? tag.name : 'New tag'}), slot, form);
}

// ---------------------------------------------------------------- members

async function membersView(query) {
  const page = Number(query.get('page')) || 1;
  const body = await api('GET', `/members/?limit=15&page=${page}&order=created_at%20desc`);
  const rows = body.members.map((member) => h('tr', null,
    h('td', {class: 'title'}, h('a', {href: `#/members/${member.id}`}, member.name || member.email), member.name ? h('span', {class: 'sub'}, member.email) : null),
    h('td', null, h('span', {class: 'pill'}, member.status === 'free' ? 'Free' : member.status ?? 'Free')),
    h('td', {class: 'nowrap hide-phone'}, timeEl(member.created_at)),
  ));
  return h('div', null,
    pageHead({title: 'Members', actions: [h('a', {class: 'btn btn-primary', href: '#/members/new'}, 'New member')]}),
    table(['Member', 'Status', ['Created', 'hide-phone']], rows, 'No members yet.'),
    pager(body.meta?.pagination, query, '/members'),
  );
}

async function memberEditorView(id) {
  const member = id ? (await api('GET', `/members/${id}/`)).members[0] : null;
  const slot = h('div');
  const name = h('input', {type: 'text', name: 'name', value: member?.name ?? '', autocomplete: 'off'});
  const email = h('input', {type: 'email', name: 'email', value: member?.email ?? '', required: true, autocomplete: 'off'});
  const note = h('textarea', {name: 'note', rows: 3, class: 'short'});
  note.value = member?.note ?? '';
  const saveButton = h('button', {type: 'submit', class: 'btn-green'}, member ? 'Save member' : 'Add member');
  const form = h('form', {class: 'card', novalidate: true, onsubmit: (event) => {
    event.preventDefault();
    run(saveButton, slot, async () => {
      const item = {name: name.value || null, email: email.value, note: note.value || null};
      const body = member ? await api('PUT', `/members/${member.id}/`, {members: [item]}) : await api('POST', '/members/', {members: [item]});
      await go(`#/members/${body.members[0].id}`);
      toast(member ? 'Member saved.' : 'Member added.');
    });
  }}, h('div', {class: 'row'}, field('Name', name), field('Email', email)), field('Note', note, 'Not visible to the member.'),
  h('div', {class: 'form-actions'}, saveButton, member ? h('button', {type: 'button', class: 'btn-danger', onclick: async (event) => {
    const b = event.currentTarget;
    if (!(await confirmModal('Delete member', `${member.email} will be deleted permanently.`, 'Delete member'))) return;
    await run(b, slot, async () => {
      await api('DELETE', `/members/${member.id}/`);
      await go('#/members');
      toast('Member deleted.');
    });
  }}, 'Delete member') : null));
  return h('div', null, pageHead({crumbs: [['Members', '#/members'], [member ? 'Edit' : 'New']], title: member ? member.name || member.email : 'New member'}), slot, form);
}

// ---------------------------------------------------------------- settings

function settingsLayout(current, content) {
  const link = (href, key, text) => h('li', null, h('a', {href, 'aria-current': current === key ? 'page' : null}, text));
  return h('div', {class: 'settings'},
    h('nav', {class: 'settings-nav', 'aria-label': 'Settings'},
      h('h3', null, 'General settings'), h('ul', null, link('#/settings/general', 'general', 'Title & description')),
      h('h3', null, 'Advanced'), h('ul', null, link('#/settings/integrations', 'integrations', 'Integrations')),
    ),
    h('div', null, content),
  );
}

async function generalSettingsView() {
  const body = await api('GET', '/settings/');
  const value = (key) => body.settings.find((s) => s.key === key)?.value ?? '';
  const slot = h('div');
  const title = h('input', {type: 'text', name: 'title', value: value('title')});
  const description = h('input', {type: 'text', name: 'description', value: value('description')});
  const saveButton = h('button', {type: 'submit', class: 'btn-green'}, 'Save settings');
  const form = h('form', {class: 'card', novalidate: true, onsubmit: (event) => {
    event.preventDefault();
    run(saveButton, slot, async () => {
      await api('PUT', '/settings/', {settings: [{key: 'title', value: title.value}, {key: 'description', value: description.value}]});
      siteTitle = '';
      await render();
      toast('Settings saved.');
    });
  }},
  h('div', {class: 'card-head'}, h('div', null, h('h2', null, 'Title & description'), h('p', null, 'The details used to identify your publication around the web.'))),
  slot, field('Site title', title, 'The name of your site.'), field('Site description', description, 'A short description, used in search engines, social media and RSS.'), h('div', {class: 'form-actions'}, saveButton));
  return h('div', null, pageHead({title: 'Settings'}), settingsLayout('general', form));
}

async function integrationsView() {
  const body = await api('GET', '/integrations/?include=webhooks');
  const custom = body.integrations.filter((i) => i.type === 'custom' || !i.type);
  const addButton = h('button', {type: 'button', class: 'btn-primary', onclick: () => addIntegration()}, 'Add custom integration');
  const list = custom.length
    ? h('ul', {class: 'integration-list'}, custom.map((integration) => h('li', null,
      h('span', {class: 'integration-icon', 'aria-hidden': 'true'}, initial(integration.name)),
      h('div', {class: 'grow'}, h('a', {href: `#/settings/integrations/${integration.id}`}, integration.name),
        h('p', null, integration.description || `${(integration.webhooks ?? []).length} webhook${(integration.webhooks ?? []).length === 1 ? '' : 's'}`)),
      h('a', {class: 'btn btn-small', href: `#/settings/integrations/${integration.id}`, 'aria-label': `Configure ${integration.name}`}, 'Configure'),
    )))
    : h('div', {class: 'table-wrap'}, h('p', {class: 'empty'}, 'No custom integrations yet. Add one to get API keys and webhooks.'));
  const content = h('div', null,
    h('div', {class: 'card-head'}, h('div', null, h('h2', null, 'Custom integrations'), h('p', null, 'Make your site work with the apps and tools you use: API keys for your own code, webhooks for everything else.')), addButton),
    h('div', {class: 'tabs', role: 'presentation'}, h('span', {class: 'current'}, 'Custom')),
    list,
  );
  return h('div', null, pageHead({crumbs: [['Settings', '#/settings/general'], ['Advanced']], title: 'Integrations'}), settingsLayout('integrations', content));
}

async function addIntegration() {
  const name = h('input', {type: 'text', name: 'name', required: true, placeholder: 'e.g. Zapier, Netlify, my app'});
  const created = await modal({
    title: 'Add custom integration',
    fields: field('Name', name),
    submitLabel: 'Add',
    submit: async () => (await api('POST', '/integrations/?include=api_keys,webhooks', {integrations: [{name: name.value}]})).integrations[0],
  });
  if (created) {
    await go(`#/settings/integrations/${created.id}`);
    toast(`Integration “${created.name}” created.`);
  }
}

/** A read-only value with a Copy button (and optional extra buttons). */
function keyRow(label, value, extra = []) {
  const input = h('input', {type: 'text', readonly: true, value, id: `f${++uid}`, spellcheck: 'false'});
  const copy = h('button', {type: 'button', class: 'btn-small', 'aria-label': `Copy ${label}`, onclick: async () => {
    try {
      await navigator.clipboard.writeText(value);
    } catch {
      input.select();
      document.execCommand?.('copy');
    }
    copy.textContent = 'Copied';
    setTimeout(() => (copy.textContent = 'Copy'), 1500);
  }}, 'Copy');
  return h('div', {class: 'key-row'}, h('label', {for: input.id}, label), input, h('div', {class: 'key-actions'}, copy, extra));
}

function webhookStatusPill(webhook) {
  return webhook.status === 'disabled' ? h('span', {class: 'pill red', title: webhook.disabled_reason ?? ''}, 'Disabled') : h('span', {class: 'pill green'}, 'Active');
}

function lastTriggered(webhook) {
  if (!webhook.last_triggered_at) return h('span', {class: 'muted'}, 'Not triggered yet');
  const ok = /^2\d\d$/.test(String(webhook.last_triggered_status ?? ''));
  return h('span', null, timeEl(webhook.last_triggered_at), ' ', webhook.last_triggered_status ? h('span', {class: `pill ${ok ? 'green' : 'red'}`}, String(webhook.last_triggered_status)) : null,
    webhook.last_triggered_error ? h('span', {class: 'sub'}, webhook.last_triggered_error) : null);
}

async function integrationView(id) {
  const integration = (await api('GET', `/integrations/${id}/?include=api_keys,webhooks`)).integrations[0];
  const slot = h('div');
  const adminKey = integration.api_keys?.find((k) => k.type === 'admin');
  const contentKey = integration.api_keys?.find((k) => k.type === 'content');
  const regenerate = (key, label) => h('button', {type: 'button', class: 'btn-small', 'aria-label': `Regenerate ${label}`, onclick: async (event) => {
    const b = event.currentTarget;
    if (!(await confirmModal(`Regenerate ${label}`, `The current ${label} stops working at once. Anything using it must be given the new key.`, `Regenerate ${label}`))) return;
    await run(b, slot, async () => {
      await api('POST', `/integrations/${integration.id}/api_key/${key.id}/refresh/`, {});
      await render();
      toast(`${label} regenerated.`);
    });
  }}, 'Regenerate');

  const name = h('input', {type: 'text', name: 'name', value: integration.name});
  const description = h('input', {type: 'text', name: 'description', value: integration.description ?? ''});
  const saveButton = h('button', {type: 'submit', class: 'btn-green'}, 'Save');
  const details = h('form', {class: 'card', novalidate: true, onsubmit: (event) => {
    event.preventDefault();
    run(saveButton, slot, async () => {
      await api('PUT', `/integrations/${integration.id}/`, {integrations: [{name: name.value, description: description.value || null}]});
      await render();
      toast('Integration saved.');
    });
  }}, h('div', {class: 'row'}, field('Title', name), field('Description', description)), h('div', {class: 'form-actions'}, saveButton));

  const keys = h('section', {class: 'card', 'aria-labelledby': 'keys-title'},
    h('div', {class: 'card-head'}, h('div', null, h('h2', {id: 'keys-title'}, 'API keys'), h('p', null, 'Keep the Admin API key secret: it can change anything on your site.'))),
    h('div', {class: 'keys'},
      contentKey ? keyRow('Content API key', contentKey.secret, [regenerate(contentKey, 'Content API key')]) : null,
      adminKey ? keyRow('Admin API key', `${adminKey.id}:${adminKey.secret}`, [regenerate(adminKey, 'Admin API key')]) : null,
      keyRow('API URL', location.origin),
    ),
  );

  const webhooks = integration.webhooks ?? [];
  const rows = webhooks.map((webhook) => h('tr', null,
    h('td', {class: 'title'}, h('a', {href: `#/webhooks/${webhook.id}`}, webhook.name || eventLabel(webhook.event)), h('span', {class: 'sub phone-only'}, eventLabel(webhook.event))),
    h('td', {class: 'hide-phone'}, eventLabel(webhook.event), h('span', {class: 'sub mono'}, webhook.event)),
    h('td', {class: 'url hide-phone', title: webhook.target_url}, webhook.target_url),
    h('td', {class: 'hide-phone'}, lastTriggered(webhook)),
    h('td', null, webhookStatusPill(webhook)),
    h('td', {class: 'nowrap'}, h('span', {class: 'actions'},
      h('button', {type: 'button', class: 'btn-small', 'aria-label': `Edit webhook ${webhook.name ?? webhook.event}`, onclick: () => editWebhook(webhook)}, 'Edit'),
      h('a', {class: 'btn btn-small', href: `#/webhooks/${webhook.id}`, 'aria-label': `Delivery log of ${webhook.name ?? webhook.event}`}, 'Log'),
    )),
  ));
  const hooks = h('section', {class: 'card', 'aria-labelledby': 'webhooks-title'},
    h('div', {class: 'card-head'}, h('div', null, h('h2', {id: 'webhooks-title'}, 'Webhooks'), h('p', null, 'Each webhook POSTs a signed JSON payload to its target URL when its event happens.')),
      h('button', {type: 'button', class: 'btn-primary', onclick: () => addWebhook(integration)}, 'Add webhook')),
    table(['Name', ['Event', 'hide-phone'], ['URL', 'hide-phone'], ['Last triggered', 'hide-phone'], 'Status', 'Actions'], rows, 'No webhooks yet.'),
  );

  const deleteButton = h('button', {type: 'button', class: 'btn-danger', onclick: async () => {
    if (!(await confirmModal('Delete integration', `“${integration.name}”, its API keys and its ${webhooks.length} webhook(s) will be deleted. Apps using its keys stop working.`, 'Delete integration'))) return;
    await run(deleteButton, slot, async () => {
      await api('DELETE', `/integrations/${integration.id}/`);
      await go('#/settings/integrations');
      toast('Integration deleted.');
    });
  }}, 'Delete integration');

  return h('div', null,
    pageHead({crumbs: [['Settings', '#/settings/general'], ['Integrations', '#/settings/integrations']], title: integration.name, lead: integration.description || 'Custom integration', actions: [deleteButton]}),
    slot, details, keys, hooks,
  );
}

/** The relayed Ghost sites (sources) a webhook may subscribe to instead of Herald's own content. */
async function loadSources() {
  return (await api('GET', '/sources/')).sources ?? [];
}

/** The add/edit webhook form fields; `sources` adds a Source select when there are any. */
function webhookFields(webhook, sources = []) {
  const source = h('select', {name: 'source_id'},
    h('option', {value: ''}, 'This site (Herald\u2019s own content)'),
    ...sources.map((s) => h('option', {value: s.id, selected: webhook?.source_id === s.id}, `Relayed Ghost site: ${s.name}`)));
  const controls = {
    source,
    name: h('input', {type: 'text', name: 'name', value: webhook?.name ?? '', placeholder: 'Rebuild my site'}),
    event: eventSelect(webhook?.event),
    target_url: h('input', {type: 'url', name: 'target_url', value: webhook?.target_url ?? '', required: true, placeholder: 'https://example.com/hooks/ghost', spellcheck: 'false'}),
    secret: h('input', {type: 'text', name: 'secret', value: '', autocomplete: 'off', spellcheck: 'false', placeholder: webhook ? 'Leave empty to keep the current secret' : 'Leave empty to generate one'}),
    filter: h('input', {type: 'text', name: 'filter', value: webhook?.filter ?? '', spellcheck: 'false', placeholder: 'tag:news'}),
  };
  const nodes = [
    field('Name', controls.name),
    field('Event', controls.event),
    field('Target URL', controls.target_url),
    field('Secret', controls.secret, 'Signs every request (X-Ghost-Signature and Standard Webhooks headers).'),
    field('Filter (optional)', controls.filter, 'NQL on the resource, e.g. tag:news; leave empty for every event.'),
  ];
  if (sources.length > 0) nodes.splice(2, 0, field('Source', controls.source, 'Where the events come from: this site, or a Ghost site relayed through Herald.'));
  return {controls, nodes};
}

async function addWebhook(integration) {
  const {controls, nodes} = webhookFields(null, await loadSources());
  const created = await modal({
    title: 'Add webhook',
    fields: nodes,
    submitLabel: 'Create webhook',
    submit: async () => {
      const item = {name: controls.name.value || null, event: controls.event.value, target_url: controls.target_url.value.trim(), integration_id: integration.id};
      if (controls.source.value) item.source_id = controls.source.value;
      if (controls.secret.value) item.secret = controls.secret.value;
      if (controls.filter.value.trim()) item.filter = controls.filter.value.trim();
      return (await api('POST', '/webhooks/', {webhooks: [item]})).webhooks[0];
    },
  });
  if (created) {
    await render();
    toast('Webhook created.');
  }
}

async function editWebhook(webhook) {
  const {controls, nodes} = webhookFields(webhook, await loadSources());
  const saved = await modal({
    title: 'Edit webhook',
    fields: nodes,
    submitLabel: 'Save webhook',
    submit: async () => {
      const item = {name: controls.name.value || null, event: controls.event.value, target_url: controls.target_url.value.trim(), filter: controls.filter.value.trim() || null, source_id: controls.source.value || null};
      if (controls.secret.value) item.secret = controls.secret.value;
      return (await api('PUT', `/webhooks/${webhook.id}/`, {webhooks: [item]})).webhooks[0];
    },
  });
  if (saved) {
    await render();
    toast('Webhook saved.');
  }
}

// ---------------------------------------------------------------- webhook page and delivery log

const DELIVERY_PILL = {succeeded: ['Succeeded', 'green'], failed: ['Failed', 'red'], pending: ['Pending', 'yellow']};

function deliveryStatus(delivery) {
  const [text, colour] = DELIVERY_PILL[delivery.status] ?? [delivery.status, ''];
  return h('span', null, h('span', {class: `pill ${colour}`}, text), ' ', h('span', {class: 'mono'}, delivery.last_status_code ?? (delivery.last_error ? 'no response' : '—')));
}

/**
 * Polls `check` every 700 ms until it answers true (or ~12 s pass), then re-renders the page,
 * but only if the user is still on it: a late refresh must never replace another page.
 */
function pollUntil(check, limit = 18) {
  const page = location.hash;
  const done = () => {
    if (location.hash === page) render();
  };
  let tries = 0;
  const tick = async () => {
    if (location.hash !== page) return;
    tries += 1;
    let finished = false;
    try {
      finished = await check();
    } catch {
      finished = true;
    }
    if (finished || tries >= limit) done();
    else setTimeout(tick, 700);
  };
  setTimeout(tick, 700);
}

async function webhookView(id, query) {
  const webhook = (await api('GET', `/webhooks/${id}/`)).webhooks[0];
  const integration = await api('GET', `/integrations/${webhook.integration_id}/`).then((b) => b.integrations[0], () => null);
  const failedOnly = query.get('failed') === '1';
  const page = Number(query.get('page')) || 1;
  const filter = failedOnly ? `&filter=${encodeURIComponent('status:failed')}` : '';
  const log = await api('GET', `/webhooks/${id}/deliveries/?limit=15&page=${page}${filter}`);
  const slot = h('div');
  const here = `#/webhooks/${id}`;
  const reload = () => render();

  // Actions
  const toggle = h('button', {type: 'button', onclick: () => run(toggle, slot, async () => {
    const status = webhook.status === 'disabled' ? 'available' : 'disabled';
    await api('PUT', `/webhooks/${id}/`, {webhooks: [{status}]});
    await reload();
    toast(status === 'disabled' ? 'Webhook disabled.' : 'Webhook enabled.');
  })}, webhook.status === 'disabled' ? 'Enable webhook' : 'Disable webhook');
  const test = h('button', {type: 'button', onclick: () => run(test, slot, async () => {
    const delivery = (await api('POST', `/webhooks/${id}/test/`, {})).deliveries[0];
    toast('Test delivery queued.');
    pollUntil(async () => (await api('GET', `/deliveries/${delivery.id}/`)).deliveries[0].status !== 'pending');
  })}, 'Send test');
  const rotate = h('button', {type: 'button', onclick: async () => {
    if (!(await confirmModal('Rotate secret', 'A new secret is generated. The current one keeps signing alongside it for 24 hours, so receivers can switch over.', 'Rotate secret', false))) return;
    await run(rotate, slot, async () => {
      await api('POST', `/webhooks/${id}/secret/rotate/`, {});
      await reload();
      toast('Secret rotated. The previous secret keeps signing for 24 hours.');
    });
  }}, 'Rotate secret');
  const edit = h('button', {type: 'button', onclick: () => editWebhook(webhook)}, 'Edit webhook');
  const remove = h('button', {type: 'button', class: 'btn-danger', onclick: async () => {
    if (!(await confirmModal('Delete webhook', 'This webhook and its delivery log will be deleted.', 'Delete webhook'))) return;
    await run(remove, slot, async () => {
      await api('DELETE', `/webhooks/${id}/`);
      await go(`#/settings/integrations/${webhook.integration_id}`);
      toast('Webhook deleted.');
    });
  }}, 'Delete webhook');

  // Details
  const secretInput = h('input', {type: 'password', readonly: true, value: webhook.secret ?? '', id: `f${++uid}`, spellcheck: 'false'});
  const reveal = h('button', {type: 'button', class: 'btn-small', onclick: () => {
    const hidden = secretInput.type === 'password';
    secretInput.type = hidden ? 'text' : 'password';
    reveal.textContent = hidden ? 'Hide secret' : 'Show secret';
  }}, 'Show secret');
  const details = h('section', {class: 'card', 'aria-labelledby': 'details-title'},
    h('div', {class: 'card-head'}, h('h2', {id: 'details-title'}, 'Details'), h('div', {class: 'actions'}, edit, toggle, test, rotate)),
    h('dl', {class: 'facts'},
      h('dt', null, 'Event'), h('dd', null, eventLabel(webhook.event), ' ', h('code', null, webhook.event)),
      h('dt', null, 'Target URL'), h('dd', {class: 'mono'}, webhook.target_url),
      h('dt', null, 'Status'), h('dd', null, webhookStatusPill(webhook), webhook.disabled_reason ? h('span', {class: 'muted small'}, ` ${webhook.disabled_reason}`) : null),
      h('dt', null, 'Last triggered'), h('dd', null, lastTriggered(webhook)),
      webhook.filter ? [h('dt', null, 'Filter'), h('dd', {class: 'mono'}, webhook.filter)] : null,
      webhook.source_id ? [h('dt', null, 'Source'), h('dd', null, 'Relayed Ghost site ', h('code', null, webhook.source_id))] : null,
    ),
    h('div', {class: 'key-row spaced'}, h('label', {for: secretInput.id}, 'Signing secret'), secretInput, h('div', {class: 'key-actions'}, reveal)),
  );

  // Delivery log
  const durations = new Map();
  const rows = log.deliveries.map((delivery) => {
    const duration = h('td', {class: 'nowrap hide-phone'}, delivery.attempt_count ? '…' : '—');
    durations.set(delivery.id, duration);
    return h('tr', null,
      h('td', {class: 'nowrap'}, h('a', {href: `#/deliveries/${delivery.id}`, title: 'Open delivery'}, formatTime(delivery.created_at))),
      h('td', {class: 'hide-phone'}, h('code', null, delivery.event)),
      h('td', {class: 'nowrap'}, deliveryStatus(delivery)),
      h('td', null, String(delivery.attempt_count)),
      duration,
    );
  });
  // The list has no duration: read each delivery's last attempt (one page, in parallel).
  for (const delivery of log.deliveries) {
    if (!delivery.attempt_count) continue;
    api('GET', `/deliveries/${delivery.id}/`).then((b) => {
      const attempts = b.deliveries[0].attempts ?? [];
      const last = attempts[attempts.length - 1];
      durations.get(delivery.id).textContent = last ? `${last.duration_ms} ms` : '—';
    }, () => (durations.get(delivery.id).textContent = '—'));
  }
  const failedBox = h('input', {type: 'checkbox', name: 'failed', checked: failedOnly, id: `f${++uid}`, onchange: () => go(failedBox.checked ? `${here}?failed=1` : here)});
  const sinceInput = h('input', {type: 'datetime-local', name: 'since', required: true, value: localInputValue(new Date(Date.now() - 24 * 3600 * 1000))});
  const recoverButton = h('button', {type: 'submit'}, 'Recover failed deliveries');
  const recoverForm = h('form', {class: 'inline-form', novalidate: true, onsubmit: (event) => {
    event.preventDefault();
    run(recoverButton, slot, async () => {
      if (!sinceInput.value) throw new Error('Choose the time to recover failed deliveries from.');
      const body = await api('POST', `/webhooks/${id}/recover/`, {since: new Date(sinceInput.value).toISOString()});
      toast(body.recovered === 1 ? '1 failed delivery re-queued.' : `${body.recovered} failed deliveries re-queued.`);
      if (body.recovered > 0) pollUntil(async () => (await api('GET', `/webhooks/${id}/deliveries/?limit=1&filter=${encodeURIComponent('status:pending')}`)).deliveries.length === 0);
    });
  }}, field('Recover failed since…', sinceInput), recoverButton);

  const logSection = h('section', {class: 'card', 'aria-labelledby': 'log-title'},
    h('div', {class: 'card-head'}, h('div', null, h('h2', {id: 'log-title'}, 'Delivery log'), h('p', null, 'Every event sent to this webhook, newest first. Open one to see the request and the response.')),
      h('button', {type: 'button', class: 'btn-small', onclick: reload}, 'Refresh')),
    h('div', {class: 'toolbar'}, h('label', {class: 'check', for: failedBox.id}, failedBox, 'Failed only')),
    table(['Time', ['Event', 'hide-phone'], 'Status', 'Attempts', ['Duration', 'hide-phone']], rows, failedOnly ? 'No failed deliveries.' : 'No deliveries yet. Trigger the event, or use “Send test”.'),
    pager(log.meta?.pagination, query, `/webhooks/${id}`),
  );
  const recoverSection = h('section', {class: 'card', 'aria-labelledby': 'recover-title'},
    h('div', {class: 'card-head'}, h('div', null, h('h2', {id: 'recover-title'}, 'Recover failed deliveries'), h('p', null, 'Re-queue every delivery that failed since a given time, e.g. after your endpoint was down.'))),
    recoverForm,
  );

  return h('div', null,
    pageHead({
      crumbs: [['Settings', '#/settings/general'], ['Integrations', '#/settings/integrations'], [integration?.name ?? 'Integration', `#/settings/integrations/${webhook.integration_id}`]],
      title: webhook.name || eventLabel(webhook.event),
      lead: 'Webhook',
      actions: [remove],
    }),
    slot, details, logSection, recoverSection,
  );
}

function headersTable(headers) {
  const entries = Object.entries(headers ?? {});
  if (!entries.length) return h('p', {class: 'muted small'}, 'No headers.');
  return h('div', {class: 'table-wrap'}, h('table', {class: 'headers'}, h('tbody', null, entries.map(([name, value]) => h('tr', null, h('td', null, name), h('td', null, String(value)))))));
}

async function deliveryView(id) {
  const delivery = (await api('GET', `/deliveries/${id}/`)).deliveries[0];
  const webhook = await api('GET', `/webhooks/${delivery.webhook_id}/`).then((b) => b.webhooks[0], () => null);
  const slot = h('div');
  const resend = h('button', {type: 'button', class: 'btn-primary', onclick: () => run(resend, slot, async () => {
    const before = delivery.attempts.length;
    await api('POST', `/deliveries/${id}/retry/`, {});
    toast('Resend queued.');
    pollUntil(async () => (await api('GET', `/deliveries/${id}/`)).deliveries[0].attempts.length > before);
  })}, 'Resend');

  const attempts = [...delivery.attempts].reverse();
  const attemptCards = attempts.map((attempt, i) => {
    const n = delivery.attempts.length - i;
    const ok = attempt.response && attempt.response.status >= 200 && attempt.response.status < 300;
    return h('details', {class: 'attempt', open: i === 0},
      h('summary', null,
        h('strong', null, `Attempt ${n}`),
        h('span', {class: `pill ${ok ? 'green' : 'red'}`}, attempt.response ? String(attempt.response.status) : 'No response'),
        h('span', {class: 'muted'}, formatTime(attempt.started_at)),
        h('span', {class: 'muted'}, `${attempt.duration_ms} ms`),
        h('span', {class: 'pill'}, attempt.trigger === 'manual' ? 'Manual' : 'Scheduled'),
      ),
      h('div', {class: 'attempt-body'},
        attempt.error ? h('div', {class: 'alert alert-error'}, h('strong', null, 'Error'), attempt.error) : null,
        h('div', {class: 'split'},
          h('div', null, h('h3', null, 'Request headers'), h('p', {class: 'mono small'}, `POST ${attempt.request?.url ?? ''}`), headersTable(attempt.request?.headers)),
          h('div', null, h('h3', null, 'Response headers'), attempt.response ? headersTable(attempt.response.headers) : h('p', {class: 'muted small'}, 'No response was received.')),
        ),
        attempt.response ? h('div', null, h('h3', null, 'Response body'), h('pre', {class: 'code'}, attempt.response.body ? prettyJson(attempt.response.body) : '(empty)')) : null,
      ),
    );
  });

  return h('div', null,
    pageHead({
      crumbs: [['Settings', '#/settings/general'], ['Integrations', '#/settings/integrations'], [webhook?.name || eventLabel(webhook?.event ?? delivery.event), `#/webhooks/${delivery.webhook_id}`], ['Delivery']],
      title: `${eventLabel(delivery.event)} delivery`,
      actions: [h('a', {class: 'btn', href: `#/webhooks/${delivery.webhook_id}`}, '← Delivery log'), resend],
    }),
    slot,
    h('section', {class: 'card', 'aria-labelledby': 'summary-title'},
      h('h2', {id: 'summary-title', class: 'visually-hidden'}, 'Summary'),
      h('dl', {class: 'facts'},
        h('dt', null, 'Status'), h('dd', null, deliveryStatus(delivery)),
        h('dt', null, 'Event'), h('dd', null, h('code', null, delivery.event)),
        h('dt', null, 'Delivery id (webhook-id)'), h('dd', {class: 'mono'}, delivery.id),
        h('dt', null, 'Created'), h('dd', null, formatTime(delivery.created_at)),
        h('dt', null, 'Attempts'), h('dd', null, String(delivery.attempt_count)),
        delivery.status === 'pending' && delivery.next_attempt_at ? [h('dt', null, 'Next attempt'), h('dd', null, `${formatTime(delivery.next_attempt_at)} (${ago(delivery.next_attempt_at)})`)] : null,
        delivery.last_error ? [h('dt', null, 'Last error'), h('dd', null, delivery.last_error)] : null,
      ),
    ),
    h('section', {class: 'card', 'aria-labelledby': 'attempts-title'},
      h('div', {class: 'card-head'}, h('h2', {id: 'attempts-title'}, `Attempts (${delivery.attempts.length})`)),
      attemptCards.length ? attemptCards : h('p', {class: 'muted'}, 'No attempt has been made yet.'),
    ),
    h('section', {class: 'card', 'aria-labelledby': 'payload-title'},
      h('div', {class: 'card-head'}, h('h2', {id: 'payload-title'}, 'Payload')),
      h('pre', {class: 'code'}, prettyJson(delivery.payload)),
    ),
  );
}

// ---------------------------------------------------------------- start

window.addEventListener('hashchange', () => render());
render();
