// Grid geometry: how many columns and rows make `count` 16:9 tiles as large as possible in a given area.
// Pure math, so every head count from 1 to 20 can be checked without a browser layout.

export const TILE_ASPECT = 16 / 9;

// Returns {cols, rows, tileWidth, tileHeight, width, height}; width/height are the whole block's size.
// Every column count is tried: the CSS-only approach (fixed column counts per head count) leaves gaps
// and skips counts; this picks the best for any count and any container shape (phone portrait included).
export function bestLayout(count, areaWidth, areaHeight, { gap = 8, aspect = TILE_ASPECT } = {}) {
  const n = Math.max(1, Math.floor(count));
  let best = null;
  for (let cols = 1; cols <= n; cols += 1) {
    const rows = Math.ceil(n / cols); // ceil: the last row always holds at least one tile
    const widthPerTile = (areaWidth - gap * (cols - 1)) / cols;
    const heightPerTile = (areaHeight - gap * (rows - 1)) / rows;
    if (widthPerTile <= 0 || heightPerTile <= 0) continue;
    // Whole pixels, rounded down, so the block never overflows by a fraction of a pixel.
    const tileWidth = Math.floor(Math.min(widthPerTile, heightPerTile * aspect));
    const tileHeight = Math.floor(tileWidth / aspect);
    const empty = cols * rows - n;
    // Larger tiles win; on a tie, the layout with fewer empty slots in its last row.
    if (!best || tileWidth > best.tileWidth || (tileWidth === best.tileWidth && empty < best.empty)) {
      best = { cols, rows, tileWidth, tileHeight, empty };
    }
  }
  if (!best) return { cols: 1, rows: n, tileWidth: 0, tileHeight: 0, width: 0, height: 0 };
  const { cols, rows, tileWidth, tileHeight } = best;
  return {
    cols,
    rows,
    tileWidth,
    tileHeight,
    width: cols * tileWidth + (cols - 1) * gap,
    height: rows * tileHeight + (rows - 1) * gap,
  };
}
