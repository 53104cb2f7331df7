package io.tandem.ops.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/** The results of an evaluation as JSON, as a Markdown table in the paper's layout, and as a chart. */
public final class EvalReport {

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private EvalReport() {}

  /** {@code {"dataset": ..., "modes": {"small": {"accuracy": ..., "avg_tokens": ..., "tokens_per_s": ...}, ...}}}. */
  public static String json(String dataset, List<ModeResult> results, ObjectNode settings) {
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
    }
    try {
      return JSON.writeValueAsString(root);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * The paper's table (Wang et al., Table 1): one row per way of running, accuracy, average
   * output length and speed; plus the takeovers and who wrote the tokens.
   */
  public static String markdown(String dataset, List<ModeResult> results) {
    StringBuilder sb = new StringBuilder();
    sb.append("| ").append(dataset).append(" | Acc (%) ↑ | Length (tokens) ↓ | Speed (tokens/s) ↑ | Problems/s | Takeovers / problem | Tokens by large |\n");
    sb.append("|---|---:|---:|---:|---:|---:|---:|\n");
    for (ModeResult r : results) {
      sb.append(String.format(Locale.ROOT, "| %s | %.1f | %.1f | %.1f | %.3f | %.2f | %.1f%% |%n", label(r.mode()),
          100 * r.accuracy(), r.avgTokens(), r.tokensPerS(), r.problemsPerS(), r.takeoversPerProblem(),
          100 * r.largeShare()));
    }
    return sb.toString();
  }

  static String label(String mode) {
    return switch (mode) {
      case "small" -> "small alone";
      case "large" -> "large alone";
      case "speculative" -> "small + large (Speculative Thinking)";
      default -> mode;
    };
  }

  /** Accuracy against speed, one labelled point per mode. */
  public static void chart(String dataset, List<ModeResult> results, Path file) throws IOException {
    System.setProperty("java.awt.headless", "true");
    int w = 720;
    int h = 480;
    int left = 80;
    int right = 40;
    int top = 50;
    int bottom = 70;
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, w, h);
    double maxSpeed = results.stream().mapToDouble(ModeResult::tokensPerS).max().orElse(1) * 1.15;
    double minAcc = Math.max(0, Math.floor(results.stream().mapToDouble(r -> 100 * r.accuracy()).min().orElse(0) / 10) * 10 - 10);
    double maxAcc = 100;
    int pw = w - left - right;
    int ph = h - top - bottom;
    g.setColor(new Color(235, 235, 235));
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    for (int i = 0; i <= 5; i++) {
      int y = top + ph - i * ph / 5;
      g.setColor(new Color(230, 230, 230));
      g.drawLine(left, y, left + pw, y);
      g.setColor(Color.DARK_GRAY);
      g.drawString(String.format(Locale.ROOT, "%.0f%%", minAcc + i * (maxAcc - minAcc) / 5), left - 45, y + 4);
      int x = left + i * pw / 5;
      g.drawString(String.format(Locale.ROOT, "%.0f", i * maxSpeed / 5), x - 10, top + ph + 20);
    }
    g.setColor(Color.BLACK);
    g.setStroke(new BasicStroke(1.5f));
    g.drawLine(left, top + ph, left + pw, top + ph);
    g.drawLine(left, top, left, top + ph);
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
    g.drawString("Accuracy vs speed on " + dataset, left, 30);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    g.drawString("speed (output tokens/s, all problems, wall clock)", left + pw / 2 - 150, h - 25);
    g.rotate(-Math.PI / 2);
    g.drawString("accuracy", -(top + ph / 2) - 30, 20);
    g.rotate(Math.PI / 2);
    Color[] colors = {new Color(31, 119, 180), new Color(214, 39, 40), new Color(44, 160, 44), new Color(148, 103, 189)};
    for (int i = 0; i < results.size(); i++) {
      ModeResult r = results.get(i);
      int x = left + (int) (r.tokensPerS() / maxSpeed * pw);
      int y = top + ph - (int) ((100 * r.accuracy() - minAcc) / (maxAcc - minAcc) * ph);
      g.setColor(colors[i % colors.length]);
      g.fillOval(x - 7, y - 7, 14, 14);
      g.setColor(Color.BLACK);
      g.drawString(String.format(Locale.ROOT, "%s (%.1f%%, %.0f tok/s)", label(r.mode()), 100 * r.accuracy(),
          r.tokensPerS()), Math.max(left + 5, Math.min(x + 10, w - 300)), y + (i % 2 == 0 ? -12 : 24));
    }
    g.dispose();
    ImageIO.write(img, "png", file.toFile());
  }

  static double round(double v, int digits) {
    double f = Math.pow(10, digits);
    return Math.round(v * f) / f;
  }
}
