// A live table: rows keyed by item, sortable by any column, filtered by text, each row with a
// uPlot sparkline of its traffic. Only the rows in view (and a few either side) are in the DOM:
// spacers above and below stand for the others, and the row elements, sparklines included, are
// reused for whichever items scroll into view. With a row and a canvas for each of 1,000 items,
// every update used to relayout and redraw them all, most of them out of sight.
//
// The column widths come from the columns (see widths()), never from the rows drawn: with the
// browser's automatic table layout they followed the content of the rows in view, so they
// jumped as rows with longer or shorter text scrolled in.

/* global uPlot */

/** 60 samples at 1.7 px each: 20 px less than it was went to the domain column (modes.js). */
const SPARK_W = 100;
const SPARK_H = 28;
/**
 * The least top of the sparklines' shared scale, in bytes/s: rows whose rates all stay below it
 * (pings, keepalives) draw a flat line rather than a zigzag of the full height.
 */
const SPARK_FLOOR = 1024;
/** Rows rendered beyond each edge of the view, so a short scroll shows no gap. */
const OVERSCAN = 6;
/** A row's height until one is measured (a 14 px font's row with a 28 px sparkline). */
const ROW_GUESS = 37;
/** A cell's padding left and right (`th, td` in dashboard.css). */
const CELL_PAD = '0.7rem';
/** A button's padding left and right and its borders (`button` in dashboard.css). */
const BUTTON_PAD = '1.2rem + 2px';
/** The least width, in ch, of a column sized by what the others leave: less scrolls sideways. */
const SHARE_MIN = 7;

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/**
 * A row's sparkline, its y scale from 0 to `top()`: the table's, shared by every row (see
 * LiveTable.sparkTop), not the row's own maximum.
 */
function sparkline(el, top) {
  const inColor = cssVar('--in');
  const outColor = cssVar('--out');
  return new uPlot(
    {
      width: SPARK_W,
      height: SPARK_H,
      ms: 1,
      pxAlign: false,
      padding: [2, 0, 2, 0],
      cursor: { show: false },
      select: { show: false },
      legend: { show: false },
      scales: { x: { time: true }, y: { range: () => [0, top()] } },
      axes: [{ show: false }, { show: false }],
      series: [{}, { stroke: inColor, width: 1.25 }, { stroke: outColor, width: 1.25 }],
    },
    [[], [], []],
    el,
  );
}

/**
 * The width of each column (a CSS length, or '' for a share of what the others leave) and the
 * least width of the table. A column's `width` is its content's in ch; the sparkline's and
 * the button's follow from their sizes. Cells that do not fit are cut with an ellipsis.
 */
function widths(columns) {
  const plus = (w) => `calc(${w} + ${CELL_PAD})`;
  const of = columns.map((c) => {
    if (c.spark) return plus(`${SPARK_W}px`);
    if (c.action) return plus(`${c.action.label.length}ch + ${BUTTON_PAD}`);
    return c.width ? plus(`${c.width}ch`) : '';
  });
  const least = of.map((w) => w || plus(`${SHARE_MIN}ch`));
  return { of, least: `calc(${least.join(' + ')})` };
}

/** A spacer row of a spacer tbody, `span` columns wide. */
function spacer(tbody, span) {
  const tr = document.createElement('tr');
  const td = document.createElement('td');
  td.colSpan = span;
  tr.append(td);
  tbody.replaceChildren(tr);
  return tr;
}

export class LiveTable {
  /**
   * columns: [{ key, label, num?, width?, clip?, sort?: (item) => value, cell?: (item) => string,
   * spark?, action? }] (width and clip: see modes.js)
   * keyOf(item), nameOf(item) (the row's `data-name`, for people and tests: a client's domain),
   * text(item) for the filter, onSelect(key), onAction(key, item): the item's action is under
   * way until the caller calls setBusy(key, false) (see setBusy).
   * scroller: the element that scrolls the rows; padTop, padBottom: empty tbodies around body,
   * which hold the spacers. changed(): asks for a render in the next frame (see frame.js).
   */
  constructor({
    head,
    body,
    empty,
    scroller,
    padTop,
    padBottom,
    columns,
    keyOf,
    nameOf,
    text,
    onSelect,
    onAction,
    history,
    historyLimit,
    sortKey,
    changed,
  }) {
    this.head = head;
    this.body = body;
    this.empty = empty;
    this.scroller = scroller;
    this.columns = columns;
    this.keyOf = keyOf;
    this.nameOf = nameOf ?? ((it) => String(keyOf(it)));
    this.text = text;
    this.onSelect = onSelect;
    this.onAction = onAction;
    this.history = history;
    this.historyLimit = historyLimit;
    this.changed = changed;
    /** The rows in the DOM by key, and row elements out of use, kept for reuse. */
    this.rows = new Map();
    this.spare = [];
    this.items = new Map();
    /** The filtered, sorted items; null when items, filter or sort changed since. */
    this.list = null;
    this.leaving = new Set();
    /** Keys whose action (a kick) is on its way: their buttons stay disabled meanwhile. */
    this.busy = new Set();
    this.filter = '';
    this.sort = { key: sortKey, dir: 1 };
    this.selected = null;
    this.rowHeight = 0;
    /** The top of every sparkline's scale (sparkTop), as of the last `list`. */
    this.top = SPARK_FLOOR;
    this.listTop = null;
    this.padTop = spacer(padTop, columns.length);
    this.padBottom = spacer(padBottom, columns.length);
    this.renderHead();
    scroller.addEventListener('scroll', () => this.changed(), { passive: true });
    // The view grows as the first rows arrive (up to the scroller's max-height): render more.
    new ResizeObserver(() => this.changed()).observe(scroller);
    window.addEventListener('resize', () => {
      this.rowHeight = 0;
      this.changed();
    });
  }

  renderHead() {
    // Widths set on the columns, with `table-layout: fixed` (dashboard.css): the table is laid
    // out from these and its headings, without reading any row.
    const table = this.head.closest('table');
    const { of, least } = widths(this.columns);
    const group = document.createElement('colgroup');
    for (const w of of) {
      const col = document.createElement('col');
      col.style.width = w;
      group.append(col);
    }
    table.querySelector(':scope > colgroup')?.remove();
    table.prepend(group);
    table.style.minWidth = least;
    this.head.replaceChildren();
    for (const c of this.columns) {
      const th = document.createElement('th');
      th.textContent = c.label;
      th.scope = 'col';
      if (c.num) th.classList.add('num');
      if (!c.spark && !c.action) {
        th.classList.add('sortable');
        th.dataset.key = c.key;
        th.addEventListener('click', () => this.sortBy(c.key));
      }
      this.head.append(th);
    }
    this.markSort();
  }

  markSort() {
    for (const th of this.head.children) {
      if (th.dataset.key === this.sort.key)
        th.setAttribute('aria-sort', this.sort.dir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
  }

  sortBy(key) {
    this.sort = { key, dir: this.sort.key === key ? -this.sort.dir : 1 };
    this.markSort();
    this.list = null;
    this.changed();
  }

  setFilter(text) {
    this.filter = text.trim().toLowerCase();
    this.list = null;
    this.changed();
  }

  /**
   * Replaces the items; `t` is the sample time for the sparklines. Keeps the data only (every
   * item's history grows, in view or not); the DOM follows in the next render.
   */
  update(items, t) {
    this.items = new Map(items.map((it) => [String(this.keyOf(it)), it]));
    for (const [key, it] of this.items) {
      let h = this.history.get(key);
      if (h === undefined) {
        h = [[], [], []];
        this.history.set(key, h);
      }
      const last = h[0][h[0].length - 1];
      if (t !== undefined && last !== t) {
        h[0].push(t);
        h[1].push(it.rateIn);
        h[2].push(it.rateOut);
        if (h[0].length > this.historyLimit) for (const a of h) a.shift();
      }
    }
    for (const key of this.history.keys()) if (!this.items.has(key)) this.history.delete(key);
    for (const key of this.leaving) if (!this.items.has(key)) this.leaving.delete(key);
    this.list = null;
    this.changed();
  }

  remove(key) {
    this.items.delete(String(key));
    // Its leave ends its leaving mark. (Rows are keyed by connection: a node that reconnects
    // comes back under a new key, unmarked, its old connection's leave notwithstanding.)
    this.leaving.delete(String(key));
    this.list = null;
    this.changed();
  }

  markLeaving(key) {
    // Gone already (its leave came before the answer to the kick): nothing left to mark.
    if (!this.items.has(String(key))) return;
    this.leaving.add(String(key));
    const row = this.rows.get(String(key));
    row?.tr.classList.add('leaving');
    // Its row now may not be the element whose button was clicked (rows are reused as the table
    // scrolls, also while the kick was on its way): the mark disables the row's own button.
    if (row) this.syncButton(row);
  }

  /**
   * Marks the action of `key` as under way (its button disabled) or over. The mark belongs to
   * the item, not to the button clicked: rows are reused as the table scrolls or the filter
   * changes, so by the time a kick fails the element clicked may show another client, and the
   * page used to re-enable that element (a leaving client's button among them) while the kicked
   * client's own row, bound afresh meanwhile, had shown an enabled button all along.
   */
  setBusy(key, on) {
    if (on) this.busy.add(String(key));
    else this.busy.delete(String(key));
    const row = this.rows.get(String(key));
    if (row) this.syncButton(row);
  }

  /** Disables a row's button while its item is leaving or has its action under way. */
  syncButton(row) {
    if (!row.button) return;
    const off = this.leaving.has(row.key) || this.busy.has(row.key);
    if (row.button.disabled !== off) row.button.disabled = off;
  }

  select(key) {
    this.selected = key === null ? null : String(key);
    for (const [k, row] of this.rows) row.tr.classList.toggle('selected', k === this.selected);
  }

  visible() {
    const col = this.columns.find((c) => c.key === this.sort.key);
    const value = col?.sort ?? ((it) => it[this.sort.key]);
    const list = [...this.items.values()].filter(
      (it) => this.filter === '' || this.text(it).toLowerCase().includes(this.filter),
    );
    list.sort((a, b) => {
      const x = value(a);
      const y = value(b);
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * this.sort.dir;
    });
    return list;
  }

  /**
   * The top of the sparklines' scale: the highest rate in the histories of every item the filter
   * keeps (in view or scrolled away, so a scroll never rescales), and at least SPARK_FLOOR. Each
   * row used to be scaled to its own maximum: a client pinging at 11 B/s drew a zigzag as tall as
   * one moving 30 KiB/s, and looked the busier of the two.
   */
  sparkTop(list) {
    let top = SPARK_FLOOR;
    for (const it of list) {
      const h = this.history.get(String(this.keyOf(it)));
      if (h === undefined) continue;
      for (const v of h[1]) if (v > top) top = v;
      for (const v of h[2]) if (v > top) top = v;
    }
    return top;
  }

  /** How many items the filter keeps (all of them without one). */
  matching() {
    if (this.list === null) this.list = this.visible();
    return this.list.length;
  }

  /** The range of `list` to render: the rows that meet the scroller's view, plus OVERSCAN. */
  window(count) {
    const h = this.rowHeight || ROW_GUESS;
    // Where the first row would start in the scroller's content: below the head.
    const top = this.scroller.scrollTop - this.head.offsetHeight;
    const end = Math.min(count, Math.ceil((top + this.scroller.clientHeight) / h) + OVERSCAN);
    // A list shorter than the scroll position (a filter typed far down) shows its last rows at
    // once; the browser then clamps the scroll to the shorter content.
    const span = Math.ceil(this.scroller.clientHeight / h) + 2 * OVERSCAN;
    const first = Math.min(Math.max(0, Math.floor(top / h) - OVERSCAN), Math.max(0, end - span));
    return [first, end];
  }

  /** Brings the DOM up to date; called once per frame at most (frame.js). */
  render() {
    if (this.list === null) this.list = this.visible();
    const list = this.list;
    // With the list: it is made again whenever the items, their histories or the filter change.
    if (this.listTop !== list) {
      this.listTop = list;
      this.top = this.sparkTop(list);
      this.body.dataset.sparkTop = String(this.top);
    }
    // Geometry is read before anything is written, so the frame lays out once.
    const [first, end] = this.window(list.length);
    const keys = [];
    for (let i = first; i < end; i++) keys.push(String(this.keyOf(list[i])));
    const keep = new Set(keys);
    for (const [key, row] of this.rows) {
      if (keep.has(key)) continue;
      row.tr.remove();
      this.rows.delete(key);
      this.spare.push(row);
    }
    // Spares beyond a view's worth would only hold memory (and a canvas each).
    while (this.spare.length > keys.length + 2 * OVERSCAN) this.spare.pop().spark?.destroy();
    let at = this.body.firstElementChild;
    keys.forEach((key, i) => {
      const row = this.rows.get(key) ?? this.bind(this.spare.pop() ?? this.createRow(), key);
      this.fill(row, list[first + i]);
      // Moved only when out of place: re-appending every row each second relaid the table.
      if (row.tr === at) at = at.nextElementSibling;
      else this.body.insertBefore(row.tr, at);
    });
    const h = this.rowHeight || ROW_GUESS;
    this.padTop.style.height = `${first * h}px`;
    this.padBottom.style.height = `${(list.length - end) * h}px`;
    this.padTop.hidden = first === 0;
    this.padBottom.hidden = end === list.length;
    this.empty.hidden = list.length > 0;
    // "Nothing to show yet." under "Clients 202" read as a page still loading, or broken, when
    // it was the filter that matched none.
    const text = this.items.size > 0 ? 'Nothing matches the filter.' : 'Nothing to show yet.';
    if (this.empty.textContent !== text) this.empty.textContent = text;
    this.body.dataset.rows = String(list.length);
    if (this.rowHeight === 0 && this.rows.size > 0) {
      // Measured once (again after a resize): rows are one line each, so all are this tall.
      this.rowHeight = this.body.firstElementChild.getBoundingClientRect().height || ROW_GUESS;
      if (Math.abs(this.rowHeight - ROW_GUESS) > 0.5) this.changed();
    }
  }

  createRow() {
    const tr = document.createElement('tr');
    const cells = [];
    const row = { tr, cells, spark: null, button: null, key: null, drawn: null, top: null };
    for (const c of this.columns) {
      const td = document.createElement('td');
      if (c.num) td.classList.add('num');
      if (c.spark) {
        td.classList.add('spark');
        row.spark = sparkline(td, () => this.top);
      }
      if (c.action) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = c.action.className;
        b.textContent = c.action.label;
        // The row's key at the time of the click: rows are reused for other items.
        b.addEventListener('click', (e) => {
          e.stopPropagation();
          this.onAction(row.key, this.items.get(row.key));
        });
        row.button = b;
        td.append(b);
      }
      cells.push(td);
      tr.append(td);
    }
    tr.addEventListener('click', () => this.onSelect(row.key));
    return row;
  }

  /** Gives a new or spare row to the item `key`. */
  bind(row, key) {
    row.key = key;
    row.drawn = null;
    // Drawn afresh for its new item, whatever the element showed before.
    row.top = null;
    row.tr.dataset.key = key;
    this.rows.set(key, row);
    return row;
  }

  fill(row, it) {
    this.columns.forEach((c, i) => {
      if (c.spark || c.action) return;
      const text = c.cell ? c.cell(it) : String(it[c.key] ?? '—');
      if (row.cells[i].textContent === text) return;
      row.cells[i].textContent = text;
      // A column without a width of its own may cut its text: the whole shows on hover.
      if (!c.width || c.clip) row.cells[i].title = text;
    });
    const name = this.nameOf(it);
    if (row.tr.dataset.name !== name) row.tr.dataset.name = name;
    row.tr.classList.toggle('selected', row.key === this.selected);
    row.tr.classList.toggle('leaving', this.leaving.has(row.key));
    // Disabled while its client is being kicked, whichever client the element showed before.
    this.syncButton(row);
    if (row.spark) {
      // Redrawn when its history has a new sample or the shared scale moved, not on every scroll.
      const h = this.history.get(row.key);
      const last = h && h[0].length > 0 ? h[0][h[0].length - 1] : null;
      if (row.drawn !== last || row.top !== this.top) {
        row.spark.setData(h && last !== null ? h : [[], [], []]);
        row.drawn = last;
        row.top = this.top;
      }
    }
  }
}
