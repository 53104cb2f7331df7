package io.tandem.inference.hf;

import java.io.Console;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reports a checkpoint's loading, layer by layer: a log line every quarter, and a progress bar on
 * stderr when a person is watching a terminal.
 */
final class LoadProgress {
  private static final Logger log = LoggerFactory.getLogger(LoadProgress.class);
  private final String what;
  private final int layers;
  private final boolean bar;
  private int lastQuarter;

  LoadProgress(String what, int layers) {
    this.what = what;
    this.layers = Math.max(1, layers);
    Console console = System.console();
    this.bar = console != null;
    log.info("loading {} ({} layers)", what, layers);
  }

  void layerDone(int done) {
    if (bar) {
      int width = 30, filled = done * width / layers;
      System.err.print("\r" + what + " [" + "#".repeat(filled) + " ".repeat(width - filled) + "] " + done + "/" + layers);
      if (done == layers) System.err.println();
    }
    int quarter = done * 4 / layers;
    if (quarter > lastQuarter && done < layers) {
      lastQuarter = quarter;
      log.info("loading {}: {}/{} layers", what, done, layers);
    }
  }

  /** @param detail what the load decided, appended to the line (e.g. how decode steps run) */
  void done(long nanos, String detail) {
    log.info("loaded {} in {} s; {}", what, String.format("%.1f", nanos / 1e9), detail);
  }
}
