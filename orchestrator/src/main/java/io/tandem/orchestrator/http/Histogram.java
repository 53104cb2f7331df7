package io.tandem.orchestrator.http;

/**
 * A Prometheus histogram with fixed upper bounds (seconds), safe to observe from any thread. A
 * rendering is one consistent moment: its buckets never decrease, and {@code _count} is its {@code
 * +Inf} bucket, as the text format requires (a scrape between the steps of an observation would
 * otherwise see a bucket over the next, or {@code _count} off {@code +Inf}).
 */
final class Histogram {
  final String name;
  final String help;
  private final double[] bounds;
  /** Observations at most each bound (cumulative, as rendered); guarded by {@code this}, as are the two below. */
  private final long[] counts;
  private long count;
  private double sum;

  Histogram(String name, String help, double... bounds) {
    this.name = name;
    this.help = help;
    this.bounds = bounds.clone();
    this.counts = new long[bounds.length];
  }

  synchronized void observe(double seconds) {
    for (int i = 0; i < bounds.length; i++) if (seconds <= bounds[i]) counts[i]++;
    count++;
    sum += seconds;
  }

  synchronized long count() {
    return count;
  }

  /** The text format; {@code labels} ({@code model_name="x"}, or null) go before each bucket's {@code le}. */
  void render(StringBuilder out, String labels) {
    long[] buckets;
    long total;
    double seconds;
    synchronized (this) {
      buckets = counts.clone();
      total = count;
      seconds = sum;
    }
    out.append("# HELP ").append(name).append(' ').append(help).append('\n');
    out.append("# TYPE ").append(name).append(" histogram\n");
    String first = labels == null ? "" : labels + ",";
    String only = labels == null ? "" : "{" + labels + "}";
    for (int i = 0; i < bounds.length; i++)
      out.append(name).append("_bucket{").append(first).append("le=\"").append(bounds[i]).append("\"} ").append(buckets[i]).append('\n');
    out.append(name).append("_bucket{").append(first).append("le=\"+Inf\"} ").append(total).append('\n');
    out.append(name).append("_sum").append(only).append(' ').append(seconds).append('\n');
    out.append(name).append("_count").append(only).append(' ').append(total).append('\n');
  }
}
