// A live table: rows keyed by item, sortable by any column, filtered by text, each row with a
// uPlot sparkline of its traffic. Rows are reused across updates so their sparklines survive.

/* global uPlot */

const SPARK_W = 120;
const SPARK_H = 28;

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function sparkline(el) {
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
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      axes: [{ show: false }, { show: false }],
      series: [{}, { stroke: inColor, width: 1.25 }, { stroke: outColor, width: 1.25 }],
    },
    [[], [], []],
    el,
  );
}

export class LiveTable {
  /**
   * columns: [{ key, label, num?, sort?: (item) => value, cell?: (item) => string, spark?, action? }]
   * keyOf(item), text(item) for the filter, onSelect(key), onAction(key, item, button).
   */
  constructor({
    head,
    body,
    empty,
    columns,
    keyOf,
    text,
    onSelect,
    onAction,
    history,
    historyLimit,
    sortKey,
  }) {
    this.head = head;
    this.body = body;
    this.empty = empty;
    this.columns = columns;
    this.keyOf = keyOf;
    this.text = text;
    this.onSelect = onSelect;
    this.onAction = onAction;
    this.history = history;
    this.historyLimit = historyLimit;
    this.rows = new Map();
    this.items = new Map();
    this.filter = '';
    this.sort = { key: sortKey, dir: 1 };
    this.selected = null;
    this.renderHead();
  }

  renderHead() {
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
    this.render();
  }

  setFilter(text) {
    this.filter = text.trim().toLowerCase();
    this.render();
  }

  /** Replaces the items; `t` is the sample time for the sparklines. */
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
    this.render();
  }

  remove(key) {
    this.items.delete(String(key));
    this.render();
  }

  markLeaving(key) {
    this.rows.get(String(key))?.tr.classList.add('leaving');
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

  render() {
    const list = this.visible();
    const keep = new Set();
    for (const it of list) {
      const key = String(this.keyOf(it));
      keep.add(key);
      const row = this.rows.get(key) ?? this.createRow(key);
      this.fill(row, it);
      this.body.append(row.tr);
    }
    for (const [key, row] of this.rows) {
      if (keep.has(key)) continue;
      row.spark?.destroy();
      row.tr.remove();
      this.rows.delete(key);
    }
    this.empty.hidden = list.length > 0;
    this.body.dataset.rows = String(list.length);
  }

  createRow(key) {
    const tr = document.createElement('tr');
    tr.dataset.key = key;
    const cells = [];
    let spark = null;
    for (const c of this.columns) {
      const td = document.createElement('td');
      if (c.num) td.classList.add('num');
      if (c.spark) {
        td.classList.add('spark');
        spark = sparkline(td);
      }
      if (c.action) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = c.action.className;
        b.textContent = c.action.label;
        b.addEventListener('click', (e) => {
          e.stopPropagation();
          this.onAction(key, this.items.get(key), b);
        });
        td.append(b);
      }
      cells.push(td);
      tr.append(td);
    }
    tr.addEventListener('click', () => this.onSelect(key));
    tr.classList.toggle('selected', key === this.selected);
    const row = { tr, cells, spark };
    this.rows.set(key, row);
    return row;
  }

  fill(row, it) {
    this.columns.forEach((c, i) => {
      if (c.spark || c.action) return;
      const text = c.cell ? c.cell(it) : String(it[c.key] ?? '—');
      if (row.cells[i].textContent !== text) row.cells[i].textContent = text;
    });
    if (row.spark) {
      const h = this.history.get(row.tr.dataset.key);
      if (h && h[0].length > 0) row.spark.setData(h);
    }
  }
}
