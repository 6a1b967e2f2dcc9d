// One dataset's page: switch the grid of sample images between the train and the test split.

const buttons = document.querySelectorAll('.ds-split-toggle button');
const grids = document.querySelectorAll('.ds-grid');

/** Show the sample grid of `split` ("train" or "test") and mark its button pressed. */
function showSplit(split) {
  for (const b of buttons) b.setAttribute('aria-pressed', String(b.dataset.split === split));
  for (const g of grids) g.hidden = g.dataset.split !== split;
}

for (const b of buttons) b.addEventListener('click', () => showSplit(b.dataset.split));
