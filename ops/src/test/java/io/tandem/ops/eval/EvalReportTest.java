package io.tandem.ops.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.Point;
import java.awt.Rectangle;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The accuracy-vs-speed chart: round ticks, and each label beside its own point. */
class EvalReportTest {

  @Test
  void ticksAreRoundNumbersCoveringTheRange() {
    assertArrayEquals(new double[] {40, 50, 60, 70, 80, 90, 100}, EvalReport.ticks(44, 100, 6));
    assertArrayEquals(new double[] {0, 1000, 2000, 3000, 4000, 5000}, EvalReport.ticks(0, 4010, 6));
    assertArrayEquals(new double[] {90, 92, 94, 96, 98, 100}, EvalReport.ticks(90.5, 100, 6));
    assertArrayEquals(new double[] {0, 0.5, 1, 1.5}, EvalReport.ticks(0, 1.4, 4));
  }

  @Test
  void eachLabelSitsBesideItsOwnPointEvenWhenTwoPointsAreClose() {
    BufferedImage img = new BufferedImage(10, 10, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    FontMetrics fm = g.getFontMetrics();
    Rectangle plot = new Rectangle(70, 50, 660, 360);
    // The README's demo run: large alone and speculative are 1.2 points and 600 tokens/s apart,
    // and the small model's point is near the right edge.
    List<Point> points = List.of(new Point(700, 330), new Point(280, 75), new Point(360, 83));
    List<String> texts = List.of("small alone\n61.0%, 3646 tokens/s", "large alone\n99.8%, 1241 tokens/s",
        "small + large (Speculative Thinking)\n98.6%, 1835 tokens/s");
    List<Rectangle> boxes = EvalReport.placeLabels(points, texts, fm, plot);
    for (int i = 0; i < boxes.size(); i++) {
      Rectangle b = boxes.get(i);
      assertTrue(b.x >= plot.x && b.x + b.width <= plot.x + plot.width, "inside the plot: " + b);
      for (int j = 0; j < boxes.size(); j++) {
        if (j == i) continue;
        assertFalse(b.intersects(boxes.get(j)), texts.get(i) + " overlaps " + texts.get(j));
        assertTrue(EvalReport.distance(b, points.get(i)) < EvalReport.distance(b, points.get(j)),
            texts.get(i) + " is nearer its own point than " + texts.get(j) + "'s");
      }
    }
    // The small model's label does not fit right of its point: it goes to the left.
    assertTrue(boxes.get(0).x + boxes.get(0).width < points.get(0).x, boxes.get(0).toString());
  }

  @Test
  void theChartIsAPng(@TempDir Path tmp) throws Exception {
    List<ModeResult> results = List.of(
        new ModeResult("small", 500, 305, 500, 0, 250.5, 3645.6, 14.553, 0, 1, 0, 0, 34),
        new ModeResult("large", 500, 499, 500, 0, 259.5, 1241.1, 4.783, 0, 0, 1, 0, 104),
        new ModeResult("speculative", 500, 493, 500, 0, 259.5, 1835.4, 7.073, 1, 0.63, 0.37, 0, 70));
    Path png = tmp.resolve("chart.png");
    EvalReport.chart("demo sums (held-out)", results, png);
    BufferedImage read = ImageIO.read(png.toFile());
    assertEquals(760, read.getWidth());
  }

  /** A mode whose every problem failed has no point: one at 0 tokens/s read as a measured speed (tester49b). */
  @Test
  void aModeThatFailedEveryProblemIsNotPlottedAtTheOrigin(@TempDir Path tmp) throws Exception {
    List<ModeResult> results = List.of(
        new ModeResult("speculative", 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0),
        new ModeResult("large", 500, 499, 500, 0, 259.5, 1241.1, 4.783, 0, 0, 1, 0, 104));
    Path png = tmp.resolve("chart.png");
    EvalReport.chart("one long problem", results, png);
    BufferedImage read = ImageIO.read(png.toFile());
    // The plot's lower left corner is (70, 410): a point there would fill the pixels just inside it in the first colour.
    java.awt.Color at = new java.awt.Color(read.getRGB(74, 406));
    assertFalse(at.equals(new java.awt.Color(31, 119, 180)), "no point at the origin: " + at);
  }
}
