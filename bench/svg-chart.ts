// Horizontal bar charts as plain SVG text, for bench/plot.ts: no dependencies, no fonts to load,
// nothing fetched. A chart is a stack of panels; a panel holds groups of bars on one scale, each
// bar with the per-round values drawn as dots over it, so a reader sees the spread as well.

/** One bar: its value (the bar's length), the rounds it summarises (dots), and its label at the end. */
export interface Bar {
  label: string
  value: number
  rounds: number[]
  color: string
  /** Text after the bar, e.g. "0.85x" or "56.9k/s (1.00x)". */
  text: string
}

export interface BarGroup {
  /** A heading above the group's bars; none for a panel of one group. */
  label?: string
  bars: Bar[]
}

export interface Panel {
  title: string
  /** The axis' unit, written under it. */
  axisLabel: string
  format: (tick: number) => string
  groups: BarGroup[]
  /** A dashed line across the panel at this value (1.0 for ratios). */
  reference?: number
}

export interface ChartOptions {
  title: string
  /** One line or several, under the title. */
  subtitle: string[]
  /** Small print at the bottom: the command, the date, the machine. */
  footer: string[]
  panels: Panel[]
  legend?: Array<{ label: string; color: string }>
}

const WIDTH = 760
const LABEL_COLUMN = 220
const VALUE_COLUMN = 130
const BAR_ROW = 24
const BAR_HEIGHT = 15
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"'

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** Evenly spaced round ticks from 0 to at least `max`, about five of them. */
export function ticksUpTo(max: number): number[] {
  const rough = max / 5
  const magnitude = 10 ** Math.floor(Math.log10(rough))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rough)!
  const ticks: number[] = []
  for (let t = 0; t < max + step / 2; t += step) ticks.push(Number(t.toPrecision(12)))
  if (ticks[ticks.length - 1]! < max) ticks.push(ticks[ticks.length - 1]! + step)
  return ticks
}

const text = (x: number, y: number, content: string, attributes = '') =>
  `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attributes}>${escapeXml(content)}</text>`

/** One panel at vertical offset `top`: its SVG elements and its height. */
function panel(p: Panel, top: number): { svg: string[]; height: number } {
  const x0 = LABEL_COLUMN
  const plotWidth = WIDTH - LABEL_COLUMN - VALUE_COLUMN
  const all = p.groups.flatMap((g) => g.bars.flatMap((b) => [b.value, ...b.rounds]))
  // A little room past the longest bar, so that a bar never ends on the frame.
  const ticks = ticksUpTo(1.04 * Math.max(...all, p.reference ?? 0))
  const max = ticks[ticks.length - 1]!
  const x = (v: number) => x0 + (v / max) * plotWidth
  const svg: string[] = [text(16, top + 16, p.title, 'font-size="14" font-weight="600" fill="#111"')]
  let y = top + 30
  const bodyTop = y
  const rows: string[] = []
  for (const group of p.groups) {
    if (group.label !== undefined) {
      y += 6
      rows.push(text(16, y + 13, group.label, 'font-size="13" font-weight="600" fill="#333"'))
      y += 20
    }
    for (const bar of group.bars) {
      const mid = y + BAR_ROW / 2
      rows.push(text(x0 - 8, mid + 4, bar.label, 'font-size="12.5" fill="#333" text-anchor="end"'))
      rows.push(
        `<rect x="${x0}" y="${(mid - BAR_HEIGHT / 2).toFixed(1)}" width="${Math.max(0.5, x(bar.value) - x0).toFixed(1)}" height="${BAR_HEIGHT}" rx="2" fill="${bar.color}"/>`,
      )
      for (const round of bar.rounds) {
        rows.push(
          `<circle cx="${x(round).toFixed(1)}" cy="${mid.toFixed(1)}" r="2.6" fill="#fff" stroke="#111" stroke-width="1.1" opacity="0.85"/>`,
        )
      }
      const end = x(Math.max(bar.value, ...bar.rounds))
      rows.push(text(end + 7, mid + 4, bar.text, 'font-size="12" fill="#111"'))
      y += BAR_ROW
    }
  }
  const bodyBottom = y + 4
  // Grid first, so the bars are drawn over it.
  for (const tick of ticks) {
    svg.push(
      `<line x1="${x(tick).toFixed(1)}" y1="${bodyTop}" x2="${x(tick).toFixed(1)}" y2="${bodyBottom}" stroke="#e5e7eb" stroke-width="1"/>`,
    )
    svg.push(
      text(x(tick), bodyBottom + 15, p.format(tick), 'font-size="11" fill="#555" text-anchor="middle"'),
    )
  }
  svg.push(
    `<line x1="${x0}" y1="${bodyBottom}" x2="${x0 + plotWidth}" y2="${bodyBottom}" stroke="#9ca3af" stroke-width="1"/>`,
  )
  if (p.reference !== undefined) {
    svg.push(
      `<line x1="${x(p.reference).toFixed(1)}" y1="${bodyTop - 4}" x2="${x(p.reference).toFixed(1)}" y2="${bodyBottom}" stroke="#6b7280" stroke-width="1.2" stroke-dasharray="4 3"/>`,
    )
  }
  svg.push(...rows)
  svg.push(
    text(
      x0 + plotWidth / 2,
      bodyBottom + 31,
      p.axisLabel,
      'font-size="11.5" fill="#555" text-anchor="middle"',
    ),
  )
  return { svg, height: bodyBottom + 42 - top }
}

/** The whole chart as an SVG document. */
export function barChart(options: ChartOptions): string {
  const body: string[] = [text(16, 26, options.title, 'font-size="17" font-weight="700" fill="#111"')]
  let y = 46
  for (const line of options.subtitle) {
    body.push(text(16, y, line, 'font-size="12.5" fill="#444"'))
    y += 17
  }
  y -= 5
  if (options.legend !== undefined) {
    let lx = 16
    // Entries wrap onto another line rather than run past the right edge.
    const place = (width: number) => {
      if (lx > 16 && lx + width > WIDTH - 16) {
        lx = 16
        y += 20
      }
    }
    for (const item of options.legend) {
      const width = 30 + item.label.length * 6.6
      place(width)
      body.push(`<rect x="${lx}" y="${y + 2}" width="12" height="12" rx="2" fill="${item.color}"/>`)
      body.push(text(lx + 17, y + 12.5, item.label, 'font-size="12" fill="#333"'))
      lx += width
    }
    place(80)
    body.push(
      `<circle cx="${lx + 6}" cy="${y + 8}" r="2.6" fill="#fff" stroke="#111" stroke-width="1.1"/>`,
      text(lx + 14, y + 12.5, 'one round', 'font-size="12" fill="#333"'),
    )
    y += 22
  }
  for (const p of options.panels) {
    const { svg, height } = panel(p, y)
    body.push(...svg)
    y += height + 8
  }
  for (const line of options.footer) {
    body.push(text(16, y + 10, line, 'font-size="10.5" fill="#6b7280"'))
    y += 15
  }
  const height = Math.ceil(y + 8)
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-labelledby="title desc" ${FONT}>`,
    // What a screen reader says, and what a browser shows as the image's tooltip.
    `<title id="title">${escapeXml(options.title)}</title>`,
    `<desc id="desc">${escapeXml(options.subtitle.join('. '))}</desc>`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n')
}
