"""Which epochs a per-epoch record keeps: at most MOST, the first and the last among them, the rest evenly spaced.

The recorders (weight histograms, the sample's probabilities) add an epoch at each epoch end and
rewrite their file whole, and viewers read it whole, so the file must not grow with the run. The
kept epochs are those on a grid from the first with a power-of-two stride, plus the last: the
smallest stride that keeps at most MOST (1 while the run has at most MOST epochs, so all are kept).
The property holds as epochs arrive: the stride only grows, and a grid of stride 2s lies inside
the grid of stride s, so every epoch a later grid needs was kept when it came; what is dropped is
off the grid (or the previous last), and no later grid needs it. Pure Python.
"""

MOST = 32


def kept(epochs, most=MOST):
    """Give the positions in `epochs` (rising numbers) of the epochs to keep: at most `most`, first and last among them."""
    if not epochs:
        return []
    span = epochs[-1] - epochs[0]
    stride = 1
    while -(-span // stride) + 1 > most:          # the grid up to the last epoch, and the last: ceil(span/stride) + 1
        stride *= 2
    return [i for i, epoch in enumerate(epochs) if (epoch - epochs[0]) % stride == 0 or i == len(epochs) - 1]
