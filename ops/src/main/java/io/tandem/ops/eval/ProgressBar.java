package io.tandem.ops.eval;

import java.io.PrintStream;

/** A one-line progress bar on stderr, drawn only when a terminal is attached. */
final class ProgressBar {
  private final PrintStream err;
  private final boolean enabled;
  private final String label;
  private final int total;
  private final long start = System.nanoTime();

  ProgressBar(PrintStream err, boolean enabled, String label, int total) {
    this.err = err;
    this.enabled = enabled;
    this.label = label;
    this.total = total;
  }

  synchronized void update(int done, int correct) {
    if (!enabled) return;
    int width = 30;
    int filled = total == 0 ? width : done * width / total;
    double s = (System.nanoTime() - start) / 1e9;
    err.printf("\r%-12s [%s%s] %d/%d  acc %.1f%%  %.0fs", label, "#".repeat(filled), " ".repeat(width - filled), done,
        total, done == 0 ? 0.0 : 100.0 * correct / done, s);
    if (done == total) err.println();
    err.flush();
  }
}
