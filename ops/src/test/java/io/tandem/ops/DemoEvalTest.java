package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A CI-sized {@code tandem eval}: the committed demo pair on the first held-out problems, greedy,
 * through the real session and worker actors.
 *
 * <p>On all 500 held-out problems, greedy, the committed pair measured small 61.0% and speculative
 * 98.6% (ops/demo/README.md); on these first 24, SMALL_MEASURED and SPECULATIVE_MEASURED. Greedy
 * decoding of fixed problems is deterministic on one machine; across machines, float differences
 * can flip a close call in a digit, so every floor leaves 3 problems of slack below what was
 * measured. The gap is the point of the method, so it is checked too: the large model's takeovers
 * must win back at least 5 of the small model's misses (measured 9).
 */
class DemoEvalTest {

  static final int PROBLEMS = 24;
  static final int SMALL_MEASURED = 14;
  static final int SPECULATIVE_MEASURED = 23;
  static final int SLACK = 3;
  static final int GAP_FLOOR = 5;

  @Test
  void theLargeModelsTakeoversWinBackTheSmallModelsMissesOnHeldOutProblems(@TempDir Path out) throws Exception {
    int code = Tandem.commandLine().execute("eval", "--limit", String.valueOf(PROBLEMS), "--modes",
        "small,speculative", "--temperature", "0", "--concurrency", String.valueOf(PROBLEMS), "--out", out.toString(),
        "--json");
    assertEquals(0, code);
    JsonNode results = new ObjectMapper().readTree(Files.readString(out.resolve("results.json")));
    JsonNode small = results.path("modes").path("small");
    JsonNode speculative = results.path("modes").path("speculative");
    assertEquals(PROBLEMS, small.path("problems").asInt());
    assertEquals(0, small.path("failed").asInt() + speculative.path("failed").asInt());
    assertTrue(small.path("answered").asInt() >= PROBLEMS - 1, "the small model ends with a boxed answer: " + small);
    int smallRight = (int) Math.round(small.path("accuracy").asDouble() * PROBLEMS);
    int speculativeRight = (int) Math.round(speculative.path("accuracy").asDouble() * PROBLEMS);
    assertTrue(smallRight >= SMALL_MEASURED - SLACK, "small accuracy " + small);
    assertTrue(speculativeRight >= SPECULATIVE_MEASURED - SLACK, "speculative accuracy " + speculative);
    assertTrue(speculativeRight - smallRight >= GAP_FLOOR,
        "the large model's takeovers fix the small model's misses: small " + smallRight + ", speculative "
            + speculativeRight + " of " + PROBLEMS);
    assertTrue(speculative.path("large_token_share").asDouble() > 0, "the large model wrote part of the answers");
    assertTrue(small.path("avg_tokens").asDouble() > 50, "answers are reasoning traces, not a token or two");
    assertTrue(Files.size(out.resolve("accuracy-vs-speed.png")) > 1000);
    assertTrue(Files.readString(out.resolve("results.md")).contains("Speculative Thinking"));
  }
}
