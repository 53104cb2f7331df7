package io.tandem.ops.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.Point;
import java.awt.Rectangle;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/** The results of an evaluation as JSON, as a Markdown table in the paper's layout, and as a chart. */
public final class EvalReport {

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private EvalReport() {}

  /** {@code {"dataset": ..., "modes": {"small": {"accuracy": ..., "avg_tokens": ..., "tokens_per_s": ...}, ...}}}. */
  public static String json(String dataset, List<ModeResult> results, ObjectNode settings) {
    return json(dataset, results, settings, java.util.Map.of());
  }

  /**
   * As {@link #json(String, List, ObjectNode)}, with each mode's {@code workers} figures where {@code
   * workers} has the mode: per role, {@code {"forward_passes", "mean_batch", "busy_s",
   * "prompt_tokens_prefilled"}} over the mode's run (what {@code tandem eval} prints per worker).
   */
  public static String json(String dataset, List<ModeResult> results, ObjectNode settings,
      java.util.Map<String, ? extends com.fasterxml.jackson.databind.JsonNode> workers) {
    ObjectNode root = JSON.createObjectNode();
    root.put("dataset", dataset);
    root.set("settings", settings);
    ObjectNode modes = root.putObject("modes");
    for (ModeResult r : results) {
      modes.putObject(r.mode())
          .put("accuracy", round(r.accuracy(), 4))
          .put("avg_tokens", round(r.avgTokens(), 1))
          .put("tokens_per_s", round(r.tokensPerS(), 1))
          .put("problems_per_s", round(r.problemsPerS(), 3))
          .put("takeovers_per_problem", round(r.takeoversPerProblem(), 2))
          .put("small_token_share", round(r.smallShare(), 3))
          .put("large_token_share", round(r.largeShare(), 3))
          .put("injected_token_share", round(r.injectedShare(), 3))
          .put("problems", r.problems())
          .put("correct", r.correct())
          .put("answered", r.answered())
          .put("failed", r.failed())
          .put("wall_s", round(r.wallSeconds(), 1));
      // Nothing answered, nothing measured: no length or speed, not a 0.0 or the pace of refusals (tester44e).
      if (r.failed() == r.problems())
        for (String figure : List.of("avg_tokens", "tokens_per_s", "problems_per_s", "takeovers_per_problem", "small_token_share",
            "large_token_share", "injected_token_share"))
          ((ObjectNode) modes.get(r.mode())).putNull(figure);
      if (workers.containsKey(r.mode())) ((ObjectNode) modes.get(r.mode())).set("workers", workers.get(r.mode()));
      if (!r.stepSeconds().isEmpty()) {
        ObjectNode steps = ((ObjectNode) modes.get(r.mode())).putObject("step_seconds");
        for (String role : List.of("small", "large")) {
          ModeResult.StepSeconds st = r.stepSeconds().get(role);
          if (st != null) steps.putObject(role).put("steps", st.steps()).put("p50", round(st.p50(), 4)).put("p99", round(st.p99(), 4));
        }
      }
    }
    try {
      return JSON.writeValueAsString(root);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * The paper's table (Yang et al., Table 1): one row per way of running, accuracy, average
   * output length and speed; plus the takeovers and who wrote the tokens; then {@code conditions},
   * a line saying how it ran (a table pasted alone told greedy from sampled nowhere: tester58e).
   */
  public static String markdown(String dataset, String conditions, List<ModeResult> results) {
    StringBuilder sb = new StringBuilder();
    sb.append("| ").append(dataset).append(" | Acc (%) ↑ | Length (tokens) ↓ | Speed (tokens/s) ↑ | Problems/s | Takeovers / problem | Tokens by large |\n");
    sb.append("|---|---:|---:|---:|---:|---:|---:|\n");
    for (ModeResult r : results) {
      if (r.failed() == r.problems()) {
        sb.append(String.format(Locale.ROOT, "| %s | %.1f | — | — | — | — | — |%n", label(r.mode()), 100 * r.accuracy()));
        continue;
      }
      sb.append(String.format(Locale.ROOT, "| %s | %.1f | %.1f | %.1f | %.3f | %.2f | %.1f%% |%n", label(r.mode()),
          100 * r.accuracy(), r.avgTokens(), r.tokensPerS(), r.problemsPerS(), r.takeoversPerProblem(),
          100 * r.largeShare()));
    }
    sb.append('\n').append(conditions).append('\n');
    // A problem that failed (a worker's error: a prompt over the context, ...) counts as wrong and as no tokens: said, not hidden.
    for (ModeResult r : results)
      if (r.failed() == r.problems())
        sb.append(String.format(Locale.ROOT, "%n%s: %s (%s in samples-%s.jsonl).%n", label(r.mode()), failures(r),
            r.failed() == 1 ? "its error is" : "their errors are", r.mode()));
      else if (r.failed() > 0)
        sb.append(String.format(Locale.ROOT, "%n%s: %d of %s failed, counted wrong and left out of %s (%s in"
            + " samples-%s.jsonl).%n", label(r.mode()), r.failed(), io.tandem.protocol.text.Plural.count(r.problems(), "problem"),
            leftOutOf(r.mode()), r.failed() == 1 ? "its error is" : "their errors are", r.mode()));
    return sb.toString();
  }

  /**
   * What the failures of {@code r} did to its figures, for a mode with some: {@code 2 problems failed, counted wrong and
   * left out of the length and problems/s}; where every problem failed, every figure but accuracy is a dash, and none is
   * "left out" of (tester55i read that beside a row of dashes).
   */
  public static String failures(ModeResult r) {
    if (r.failed() == r.problems())
      return (r.problems() == 1 ? "its one problem" : "all " + r.problems() + " problems")
          + " failed, counted wrong; nothing else was measured";
    return io.tandem.protocol.text.Plural.count(r.failed(), "problem") + " failed, counted wrong and left out of "
        + leftOutOf(r.mode());
  }

  /** The figures a failed problem of {@code mode} is left out of: takeovers only where there are any (speculative). */
  public static String leftOutOf(String mode) {
    return mode.equals("speculative") ? "the length, problems/s and takeovers per problem" : "the length and problems/s";
  }

  static String label(String mode) {
    return switch (mode) {
      case "small" -> "small alone";
      case "large" -> "large alone";
      case "speculative" -> "small + large (Speculative Thinking)";
      default -> mode;
    };
  }

  /**
   * Accuracy against speed, one point per mode, each labelled beside its own point in its own
   * colour, on axes whose ticks are round numbers.
   */
  public static void chart(String dataset, List<ModeResult> all, Path file) throws IOException {
    System.setProperty("java.awt.headless", "true");
    // A mode whose every problem failed has no speed: a point at 0 tokens/s read as one measured (tester49b). The table's
    // dashes say so there; here a line under the title does.
    List<ModeResult> results = all.stream().filter(r -> r.failed() < r.problems()).toList();
    List<String> unplotted = all.stream().filter(r -> r.failed() == r.problems()).map(r -> label(r.mode())).toList();
    int w = 760;
    int h = 480;
    int left = 70;
    int right = 30;
    int top = 50;
    int bottom = 70;
    int pw = w - left - right;
    int ph = h - top - bottom;
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, w, h);

    double[] speed = ticks(0, results.stream().mapToDouble(ModeResult::tokensPerS).max().orElse(1) * 1.1, 6);
    double lowest = results.stream().mapToDouble(r -> 100 * r.accuracy()).min().orElse(0);
    double[] acc = ticks(Math.max(0, lowest - 5), 100, 6);
    // Headroom above the top tick (100%), so that a point there has room for its label.
    double x0 = speed[0], x1 = speed[speed.length - 1], y0 = acc[0];
    double y1 = acc[acc.length - 1] + 0.4 * (acc[1] - acc[0]);

    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    FontMetrics small = g.getFontMetrics();
    for (double a : acc) {
      int y = top + ph - (int) Math.round((a - y0) / (y1 - y0) * ph);
      g.setColor(new Color(230, 230, 230));
      g.drawLine(left, y, left + pw, y);
      g.setColor(Color.DARK_GRAY);
      String t = tickLabel(a) + "%";
      g.drawString(t, left - 8 - small.stringWidth(t), y + 4);
    }
    for (double v : speed) {
      int x = left + (int) Math.round((v - x0) / (x1 - x0) * pw);
      g.setColor(new Color(230, 230, 230));
      g.drawLine(x, top, x, top + ph);
      g.setColor(Color.DARK_GRAY);
      String t = tickLabel(v);
      g.drawString(t, x - small.stringWidth(t) / 2, top + ph + 18);
    }
    g.setColor(Color.BLACK);
    g.setStroke(new BasicStroke(1.5f));
    g.drawLine(left, top + ph, left + pw, top + ph);
    g.drawLine(left, top, left, top + ph);
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
    g.drawString("Accuracy vs speed on " + dataset, left, 30);
    if (!unplotted.isEmpty()) {
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
      g.drawString(String.join(", ", unplotted) + ": every problem failed, no speed to plot (results.md)", left, 45);
    }
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    FontMetrics normal = g.getFontMetrics();
    String xTitle = "speed (output tokens/s, all problems, wall clock)";
    g.drawString(xTitle, left + (pw - normal.stringWidth(xTitle)) / 2, h - 25);
    g.rotate(-Math.PI / 2);
    g.drawString("accuracy", -(top + ph / 2) - normal.stringWidth("accuracy") / 2, 18);
    g.rotate(Math.PI / 2);

    Color[] colors = {new Color(31, 119, 180), new Color(214, 39, 40), new Color(44, 160, 44), new Color(148, 103, 189)};
    List<Point> points = new ArrayList<>();
    List<String> texts = new ArrayList<>();
    for (ModeResult r : results) {
      points.add(new Point(left + (int) Math.round((r.tokensPerS() - x0) / (x1 - x0) * pw),
          top + ph - (int) Math.round((100 * r.accuracy() - y0) / (y1 - y0) * ph)));
      texts.add(String.format(Locale.ROOT, "%s\n%.1f%%, %.0f tokens/s", label(r.mode()), 100 * r.accuracy(), r.tokensPerS()));
    }
    List<Rectangle> boxes = placeLabels(points, texts, normal, new Rectangle(left, top, pw, ph));
    for (int i = 0; i < points.size(); i++) {
      Point p = points.get(i);
      Rectangle b = boxes.get(i);
      Color c = colors[i % colors.length];
      g.setColor(c);
      g.fillOval(p.x - 7, p.y - 7, 14, 14);
      if (distance(b, p) > 16) {
        // A label that had to move away from its point keeps a line to it.
        g.setStroke(new BasicStroke(1f));
        g.drawLine(p.x, p.y, (int) Math.max(b.x, Math.min(p.x, b.x + b.width)), (int) Math.max(b.y, Math.min(p.y, b.y + b.height)));
      }
      g.setColor(c.darker());
      String[] lines = texts.get(i).split("\\n");
      for (int l = 0; l < lines.length; l++) g.drawString(lines[l], b.x, b.y + l * normal.getHeight() + normal.getAscent());
    }
    g.dispose();
    ImageIO.write(img, "png", file.toFile());
  }

  /**
   * Where each label goes: beside its own point (right, left, below, above, then the diagonals:
   * the first place inside the plot that covers no point and no other label, and is nearer its
   * own point than any other); failing that, the first free place, which the chart joins to its
   * point with a line. Labels may span lines ({@code \n}).
   *
   * @return one box per label, in pixels, in the order of {@code points}
   */
  static List<Rectangle> placeLabels(List<Point> points, List<String> texts, FontMetrics fm, Rectangle plot) {
    int gap = 10;
    int radius = 8;
    List<Rectangle> placed = new ArrayList<>();
    for (int i = 0; i < points.size(); i++) {
      Point p = points.get(i);
      String[] lines = texts.get(i).split("\n");
      int width = java.util.Arrays.stream(lines).mapToInt(fm::stringWidth).max().orElse(0);
      int height = lines.length * fm.getHeight();
      int[][] offsets = {
        {gap, -height / 2}, {-gap - width, -height / 2}, {-width / 2, gap}, {-width / 2, -gap - height},
        {gap / 2, gap / 2}, {gap / 2, -gap / 2 - height}, {-gap / 2 - width, gap / 2}, {-gap / 2 - width, -gap / 2 - height}
      };
      Rectangle best = null;
      Rectangle fallback = null;
      for (int[] o : offsets) {
        Rectangle box = new Rectangle(p.x + o[0], p.y + o[1], width, height);
        if (!plot.contains(box) || placed.stream().anyMatch(box::intersects)) continue;
        boolean coversAPoint = false;
        boolean nearestToOwn = true;
        for (int j = 0; j < points.size(); j++) {
          if (j == i) continue;
          Point q = points.get(j);
          Rectangle grown = new Rectangle(box.x - radius, box.y - radius, box.width + 2 * radius, box.height + 2 * radius);
          coversAPoint |= grown.contains(q);
          nearestToOwn &= distance(box, p) < distance(box, q);
        }
        if (coversAPoint) continue;
        if (nearestToOwn) {
          best = box;
          break;
        }
        if (fallback == null) fallback = box;
      }
      if (best == null) best = fallback != null ? fallback : free(p, width, height, placed, plot);
      placed.add(best);
    }
    return placed;
  }

  /** A box right (or left) of {@code p} moved down until it overlaps no placed label. */
  private static Rectangle free(Point p, int width, int height, List<Rectangle> placed, Rectangle plot) {
    int x = p.x + 10 + width <= plot.x + plot.width ? p.x + 10 : Math.max(plot.x, p.x - 10 - width);
    Rectangle box = new Rectangle(x, Math.max(plot.y, p.y - height / 2), width, height);
    while (placed.stream().anyMatch(box::intersects) && box.y + box.height < plot.y + plot.height) box.y += 2;
    return box;
  }

  /** Pixels from {@code p} to the nearest point of {@code box}. */
  static double distance(Rectangle box, Point p) {
    double x = Math.max(box.x, Math.min(p.x, box.x + box.width));
    double y = Math.max(box.y, Math.min(p.y, box.y + box.height));
    return Math.hypot(p.x - x, p.y - y);
  }

  /** Round ticks covering [lo, hi]: multiples of 1, 2 or 5 times a power of ten, at most about {@code most}. */
  static double[] ticks(double lo, double hi, int most) {
    double raw = (hi - lo) / most;
    double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    double step = 10 * magnitude;
    for (double m : new double[] {1, 2, 5, 10}) {
      if (m * magnitude >= raw) {
        step = m * magnitude;
        break;
      }
    }
    double first = Math.floor(lo / step) * step;
    int n = (int) Math.ceil((hi - first) / step - 1e-9);
    double[] out = new double[n + 1];
    for (int i = 0; i <= n; i++) out[i] = first + i * step;
    return out;
  }

  private static String tickLabel(double v) {
    return v == Math.rint(v) ? String.format(Locale.ROOT, "%,.0f", v) : String.format(Locale.ROOT, "%s", round(v, 3));
  }

  static double round(double v, int digits) {
    double f = Math.pow(10, digits);
    return Math.round(v * f) / f;
  }
}
