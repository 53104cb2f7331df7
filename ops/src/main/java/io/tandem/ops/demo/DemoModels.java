package io.tandem.ops.demo;

import io.tandem.ops.eval.Problem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Where the committed demo pair lives ({@code ops/demo/}), and its held-out problem set. */
public final class DemoModels {

  /** Problems in the held-out set that {@code tandem eval} runs by default. */
  public static final int HELD_OUT_SIZE = 500;

  private DemoModels() {}

  /**
   * The demo folder: {@code $tandem.home/ops/demo} (the launcher sets {@code tandem.home}), else
   * {@code ops/demo} or {@code demo} below the working directory.
   */
  public static Path dir() {
    List<Path> candidates = new ArrayList<>();
    String home = System.getProperty("tandem.home");
    if (home != null) candidates.add(Path.of(home, "ops", "demo"));
    candidates.add(Path.of("ops", "demo"));
    candidates.add(Path.of("demo"));
    for (Path c : candidates) {
      if (Files.isRegularFile(c.resolve("heldout.jsonl")) && Files.isDirectory(c.resolve("small"))) {
        return c.toAbsolutePath();
      }
    }
    throw new IllegalStateException("the demo pair is not where it should be (looked in " + candidates
        + "); run ./tandem from the repository, or give --data, --small and --large");
  }

  /** Whether a --small/--large value is the demo pair's model of that role: not given, or its folder. */
  public static boolean isDemo(String model, String role) {
    if (model == null || model.isBlank()) return true;
    try {
      return Files.isSameFile(Path.of(model), dir().resolve(role));
    } catch (IOException | RuntimeException e) {
      return false; // not a folder here (an engine spec, scripted:..., a typo): not the demo pair
    }
  }

  /**
   * Whether {@code prompt} is a problem of the demo task exactly as the pair was trained on it
   * ({@code Compute a + b + c + d + e + f.}, alone or after {@link SumTask#INSTRUCTION} as eval
   * prompts it, numbers from 10 to 99, single spaces, the full stop:
   * without the stop or the spaces, or with a leading zero, it answered wrongly; tester51a); the
   * playground's hint uses the same rule.
   */
  public static boolean isTaskQuestion(String prompt) {
    return TASK_QUESTION.matcher(prompt).matches();
  }

  /**
   * The total of a demo task question ({@link #isTaskQuestion}) when it is below 100, else -1: six
   * numbers drawn from 10 to 99, as the pair was trained on, total less about once in 65,000, and the
   * models have not learnt such sums (ops/demo/README.md, "Outside the training range").
   */
  public static int totalBelowTrained(String prompt) {
    if (!isTaskQuestion(prompt)) return -1;
    int total = java.util.regex.Pattern.compile("\\d{2}").matcher(prompt).results().mapToInt(m -> Integer.parseInt(m.group())).sum();
    return total < 100 ? total : -1;
  }

  /** The question, alone or after eval's instruction, which the pair was trained on too (tester56c: warned of as off task). */
  private static final java.util.regex.Pattern TASK_QUESTION = java.util.regex.Pattern.compile(
      "(?:" + java.util.regex.Pattern.quote(SumTask.INSTRUCTION + " ") + ")?Compute [1-9]\\d( \\+ [1-9]\\d){5}\\.");

  /** The held-out problems: the held-out seed's stream, which training never draws from. */
  public static List<Problem> heldOut(int n) {
    List<Problem> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      SumTask.Problem p = SumTask.problem(DemoTrainer.HELD_OUT_SEED, i);
      out.add(new Problem("sums-" + i, p.question(), String.valueOf(p.answer())));
    }
    return out;
  }

  public static void writeHeldOut(Path file) throws IOException {
    Problem.writeJsonl(heldOut(HELD_OUT_SIZE), file);
  }
}
