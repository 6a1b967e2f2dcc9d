// A page of thumbnails drawn from one sprite image: one request for the whole page, not one per image.
// The server lays tile k at column k % columns, row floor(k / columns), every tile the same size
// (GET /api/runs/ID/predictions/sprite.png in docs/api.md); each tile's canvas copies its own cell.

import { el } from "./dom.js";

/** Give a tile's canvas (width × height pixels); decorative, as the button around it says what it shows. */
export function tileCanvas(width, height, className) {
  return el("canvas", { width, height, class: className, "aria-hidden": "true" });
}

/**
 * Load the sprite at `url` once and copy cell k into canvases[k], enlarged `scale` times (the sprite
 * was asked for at scale 1: the server sends and encodes scale² fewer pixels); resolves when every
 * tile is drawn, rejects when the sprite cannot be loaded. Rows hold min(canvases, maxColumns) cells.
 */
export async function drawSprite(url, canvases, maxColumns, scale = 1) {
  const image = new Image();
  image.src = url;
  await image.decode();
  const columns = Math.max(1, Math.min(canvases.length, maxColumns));
  canvases.forEach((canvas, k) => {
    const [width, height] = [canvas.width / scale, canvas.height / scale];
    const context = canvas.getContext("2d");
    context.imageSmoothingEnabled = false;   // nearest neighbours: whole square pixels, as the server enlarges
    context.drawImage(image, (k % columns) * width, Math.floor(k / columns) * height, width, height,
      0, 0, canvas.width, canvas.height);
  });
}
