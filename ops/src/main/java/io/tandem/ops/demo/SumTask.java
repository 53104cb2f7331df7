package io.tandem.ops.demo;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The demo task: sums of six two-digit numbers, with reasoning traces of three kinds, the way the
 * paper's pair writes them (arXiv 2504.12329: small reasoning models over-reflect, the large one
 * reflects briefly).
 *
 * <p>All start with the same forward pass, one paragraph per step, ending {@code So the sum is T.}
 * Then:
 * <ul>
 *   <li>{@link #overReflecting} (the small model's): a {@code Wait, ...} paragraph per step
 *       re-adds every number a second time, then gives the sum again. Nothing in it can find an
 *       error; where the model slips, in the forward pass or in the re-check, its answer is wrong.
 *   <li>{@link #verifying} (the committed large model's): one verification that adds the
 *       question's own numbers in reverse order, the verdict ({@code Yes, it matches.} or {@code
 *       Wait, it does not match. The sum is V.}) and the verification's sum boxed.
 *   <li>{@link #decisive}: as verifying, with both sums set side by side before the verdict and
 *       their digits compared one by one ({@code V and T: 3 is 3, 7 is not 8.}), so that every
 *       word of the verdict follows the two digits it depends on.
 * </ul>
 * A takeover at the small model's first {@code Wait} (the paper's trigger {@code "\n\n"} with a
 * negative look-ahead) replaces the long re-check with the large model's short verification.
 * Everything is deterministic per seed.
 */
public final class SumTask {

  /** What the paper's evaluation puts before every MATH500 problem. */
  public static final String INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}.";

  public static final int COUNT = 6;

  /** Default chance that a forward step of a decisive trace slips (its sum a digit off), uncorrected. */
  public static final double SLIP = 0.08;
  /** Default chance that a decisive trace's forward pass copies a number from the question a digit off. */
  public static final double MISREAD = 0.03;
  /** Default chance that a forward step of a {@link #verifying} trace slips. */
  public static final double VERIFYING_SLIP = 0.12;
  /** Default share of a {@link #verifying} trace's slips corrected at once by a {@code Wait, ...} paragraph. */
  public static final double VERIFYING_CORRECTED = 0.6;

  /** Opens the verification of a decisive trace. */
  public static final String VERIFY = "Let me verify in reverse order: ";
  /** The verdict when the verification's sum equals the forward one. */
  public static final String MATCH = "Yes, it matches.";
  /** Opens the verdict when it does not; the verification's sum follows. */
  public static final String MISMATCH = "Wait, it does not match. The sum is ";

  /** One problem: its numbers, the question text and the true sum. */
  public record Problem(int[] numbers, String question, int answer) {}

  private SumTask() {}

  /** The {@code index}-th problem of a seeded stream. */
  public static Problem problem(long seed, long index) {
    SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + index);
    int[] n = new int[COUNT];
    for (int i = 0; i < COUNT; i++) n[i] = 10 + rng.nextInt(90);
    return problem(n);
  }

  public static Problem problem(int[] numbers) {
    StringBuilder q = new StringBuilder("Compute ");
    int sum = 0;
    for (int i = 0; i < numbers.length; i++) {
      if (i > 0) q.append(" + ");
      q.append(numbers[i]);
      sum += numbers[i];
    }
    return new Problem(numbers.clone(), q.append('.').toString(), sum);
  }

  /** The user message: the paper's instruction, then the problem (as the evaluator prompts it). */
  public static String prompt(Problem p) {
    return INSTRUCTION + " " + p.question();
  }

  /**
   * The small model's trace: the forward pass, then a {@code Wait, ...} paragraph per step that
   * adds the numbers again from the first (each from the previous re-check's total), the sum
   * again, and the boxed answer. Paragraphs are separated by blank lines.
   */
  public static String overReflecting(Problem p) {
    List<String> paragraphs = new ArrayList<>();
    int[] n = p.numbers();
    forward(n, null, 0, 0, paragraphs);
    int again = n[0];
    for (int i = 1; i < n.length; i++) {
      paragraphs.add("Wait, " + step(again, n[i], again + n[i]));
      again += n[i];
    }
    paragraphs.add("So the sum is " + again + ".");
    paragraphs.add("The final answer is \\boxed{" + again + "}.");
    return String.join("\n\n", paragraphs);
  }

  /**
   * The large model's trace: the forward pass, where each step's sum slips (a digit off, never
   * corrected) with chance {@code slip} and each number is copied from the question a digit off
   * with chance {@code misread}; then one verification that adds the question's numbers in
   * reverse order, the verdict (see the class comment) and the verification's sum boxed.
   *
   * @throws IllegalArgumentException if a rate is outside [0, 1)
   */
  public static String decisive(Problem p, SplittableRandom rng, double slip, double misread) {
    requireRates(slip, 1, misread, false);
    List<String> paragraphs = new ArrayList<>();
    int[] n = p.numbers();
    int[] read = new int[n.length];
    for (int i = 0; i < n.length; i++) read[i] = misread > 0 && rng.nextDouble() < misread ? misread(n[i], rng) : n[i];
    int total = forward(read, rng, slip, 0, paragraphs);
    int back = verify(n, paragraphs);
    paragraphs.add(verdict(back, total));
    paragraphs.add("The final answer is \\boxed{" + back + "}.");
    return String.join("\n\n", paragraphs);
  }

  /**
   * Refuses a rate of the large model's traces out of its range: {@code slip} and {@code misread}
   * in [0, 1), and, for {@link #verifying} traces, {@code corrected} in (0, 1].
   *
   * @throws IllegalArgumentException naming the rate, its value and its range
   */
  public static void requireRates(double slip, double corrected, double misread, boolean verifying) {
    if (!(slip >= 0 && slip < 1)) throw new IllegalArgumentException("the slip rate must be in [0, 1), got " + slip);
    if (verifying && !(corrected > 0 && corrected <= 1))
      throw new IllegalArgumentException("the corrected share must be in (0, 1], got " + corrected);
    if (!(misread >= 0 && misread < 1)) throw new IllegalArgumentException("the misread rate must be in [0, 1), got " + misread);
  }

  /**
   * The first demo pair's traces (the large model in {@code ops/demo/large} learned to write
   * these): the forward pass, where each step slips with chance {@code slip} and a slip is
   * corrected at once by a {@code Wait, ...} paragraph with chance {@code corrected}, each number
   * misread with chance {@code misread}; then the verification in reverse order, the verdict
   * alone ({@link #MATCH}, or {@link #MISMATCH} and the verification's sum) and that sum boxed.
   *
   * @throws IllegalArgumentException if a rate is out of range
   */
  public static String verifying(Problem p, SplittableRandom rng, double slip, double corrected, double misread) {
    requireRates(slip, corrected, misread, true);
    List<String> paragraphs = new ArrayList<>();
    int[] n = p.numbers();
    int[] read = new int[n.length];
    for (int i = 0; i < n.length; i++) read[i] = misread > 0 && rng.nextDouble() < misread ? misread(n[i], rng) : n[i];
    int total = forward(read, rng, slip, corrected, paragraphs);
    int back = verify(n, paragraphs);
    paragraphs.add(back == total ? MATCH : MISMATCH + back + ".");
    paragraphs.add("The final answer is \\boxed{" + back + "}.");
    return String.join("\n\n", paragraphs);
  }

  /** The verification paragraph into {@code paragraphs}: the question's numbers added in reverse order; returns their sum. */
  private static int verify(int[] n, List<String> paragraphs) {
    StringBuilder verify = new StringBuilder(VERIFY);
    int back = n[n.length - 1];
    for (int i = n.length - 2; i >= 0; i--) {
      int next = back + n[i];
      verify.append(back).append(" + ").append(n[i]).append(" = ").append(next).append(i > 0 ? ", " : ".");
      back = next;
    }
    paragraphs.add(verify.toString());
    return back;
  }

  /**
   * The verdict paragraph on a verification's sum {@code verified} and the forward pass's {@code
   * forward}: both side by side, their digits compared from the left ({@link #comparison}), then
   * whether they match and, if not, which sum stands: {@code 374 and 384: 3 is 3, 7 is not 8. Wait,
   * it does not match. The sum is 374.} Each comparison is decided by two digits just written, so
   * that a small model can learn it; a verdict after two whole numbers was copied, not compared
   * (ops/demo/README.md).
   */
  public static String verdict(int verified, int forward) {
    return verified + " and " + forward + ": " + comparison(verified, forward) + ". "
        + (verified == forward ? MATCH : MISMATCH + verified + ".");
  }

  /**
   * The digits of {@code a} and {@code b} compared from the left, up to the first that differs:
   * {@code 3 is 3, 7 is not 8}. Sums of different lengths (two and three digits) differ in their
   * first digit, as every sum of six two-digit numbers is at least 60 and below 1000.
   */
  public static String comparison(int a, int b) {
    String x = String.valueOf(a), y = String.valueOf(b);
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < Math.min(x.length(), y.length()); i++) {
      if (i > 0) out.append(", ");
      out.append(x.charAt(i)).append(" is ");
      if (x.charAt(i) != y.charAt(i)) return out.append("not ").append(y.charAt(i)).toString();
      out.append(y.charAt(i));
    }
    return out.toString();
  }

  /**
   * Where, in a decisive or verifying trace, the verdict's deciding word starts ({@code Yes} or
   * {@code Wait}, after both sums and their comparison in a decisive trace, opening the paragraph
   * in a verifying one):
   * the one token per trace that says whether the forward sum is wrong.
   *
   * @throws IllegalArgumentException if {@code trace} has no verdict
   */
  public static int verdictOffset(String trace) {
    int verify = trace.indexOf(VERIFY);
    int paragraph = verify < 0 ? -1 : trace.indexOf("\n\n", verify);
    if (paragraph < 0) throw new IllegalArgumentException("a trace without a verdict: " + trace);
    int start = paragraph + 2;
    if (start < trace.length() && !Character.isDigit(trace.charAt(start))) return start;
    int dot = trace.indexOf(". ", start);
    if (dot < 0) throw new IllegalArgumentException("a trace without a verdict: " + trace);
    return dot + 1;
  }

  /**
   * Where the words that decide a trace's verdict start: {@link #verdictOffset}, and in a decisive
   * trace each word after {@code is} in the digit comparison (the second digit, or {@code not}).
   *
   * @throws IllegalArgumentException if {@code trace} has no verdict
   */
  public static List<Integer> decisionOffsets(String trace) {
    int verdict = verdictOffset(trace);
    List<Integer> out = new ArrayList<>();
    int paragraph = trace.lastIndexOf("\n\n", verdict) + 2;
    int colon = trace.indexOf(": ", paragraph);
    if (colon >= 0 && colon < verdict) {
      for (int i = trace.indexOf(" is ", colon); i >= 0 && i < verdict; i = trace.indexOf(" is ", i + 1)) out.add(i + 3);
    }
    out.add(verdict);
    return out;
  }

  /**
   * The forward pass into {@code paragraphs}, adding {@code read} (the numbers as copied); returns
   * its sum. With {@code rng} null nothing slips; else each step draws whether it slips, and a
   * slip draws whether it is corrected at once by a {@code Wait, ...} paragraph when {@code
   * corrected} is positive.
   */
  private static int forward(int[] read, SplittableRandom rng, double slip, double corrected, List<String> paragraphs) {
    int total = read[0];
    paragraphs.add("Step 1: the first number is " + read[0] + ".");
    for (int i = 1; i < read.length; i++) {
      int right = total + read[i];
      if (rng != null && rng.nextDouble() < slip) {
        int wrong = slip(right, rng);
        paragraphs.add("Step " + (i + 1) + ": " + step(total, read[i], wrong));
        if (corrected > 0 && rng.nextDouble() < corrected) {
          paragraphs.add("Wait, " + total + " + " + read[i] + " is not " + wrong + ". " + total + " + " + read[i] + " = "
              + right + ".");
          total = right;
        } else {
          total = wrong;
        }
      } else {
        paragraphs.add("Step " + (i + 1) + ": " + step(total, read[i], right));
        total = right;
      }
    }
    paragraphs.add("So the sum is " + total + ".");
    return total;
  }

  private static String step(int total, int next, int sum) {
    return "the running total is " + total + ", and the next number is " + next + ". " + total + " + " + next + " = " + sum + ".";
  }

  /** A two-digit number copied with one digit off. */
  private static int misread(int number, SplittableRandom rng) {
    for (;;) {
      int w = number + (rng.nextBoolean() ? 1 : 10) * (rng.nextBoolean() ? 1 : -1);
      if (w >= 10 && w <= 99) return w;
    }
  }

  /**
   * A plausible wrong sum: one digit off, or a carry forgotten or added (into the hundreds too, so
   * that a verdict also sees sums that differ in their first digit).
   */
  private static int slip(int right, SplittableRandom rng) {
    int[] deltas = {1, -1, 10, -10, 2, -2, 9, -9, 100, -100};
    for (;;) {
      int w = right + deltas[rng.nextInt(deltas.length)];
      if (w >= 10 && w != right) return w;
    }
  }
}
