package io.tandem.orchestrator.http;

import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;

/** A Prometheus histogram with fixed upper bounds (seconds), safe to observe from any thread. */
final class Histogram {
  final String name;
  final String help;
  private final double[] bounds;
  private final LongAdder[] counts;
  private final LongAdder count = new LongAdder();
  private final DoubleAdder sum = new DoubleAdder();

  Histogram(String name, String help, double... bounds) {
    this.name = name;
    this.help = help;
    this.bounds = bounds.clone();
    this.counts = new LongAdder[bounds.length];
    for (int i = 0; i < bounds.length; i++) counts[i] = new LongAdder();
  }

  void observe(double seconds) {
    for (int i = 0; i < bounds.length; i++) if (seconds <= bounds[i]) counts[i].increment();
    count.increment();
    sum.add(seconds);
  }

  long count() {
    return count.sum();
  }

  void render(StringBuilder out) {
    out.append("# HELP ").append(name).append(' ').append(help).append('\n');
    out.append("# TYPE ").append(name).append(" histogram\n");
    for (int i = 0; i < bounds.length; i++)
      out.append(name).append("_bucket{le=\"").append(bounds[i]).append("\"} ").append(counts[i].sum()).append('\n');
    out.append(name).append("_bucket{le=\"+Inf\"} ").append(count.sum()).append('\n');
    out.append(name).append("_sum ").append(sum.sum()).append('\n');
    out.append(name).append("_count ").append(count.sum()).append('\n');
  }
}
