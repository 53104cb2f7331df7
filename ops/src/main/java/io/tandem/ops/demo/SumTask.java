package io.tandem.ops.demo;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The demo task: sums of six two-digit numbers, with reasoning traces written the way a reasoning
 * model writes them. One paragraph per step; some steps slip, and a {@code Wait, ...} paragraph
 * corrects most slips; the rest are caught by a verification in reverse order, which ends the
 * trace with the verified sum either way. Deterministic per seed.
 *
 * <p>What this makes a model learn: the forward steps are short additions the small model gets
 * mostly right; the verification redoes all five additions, so an uncorrected forward error
 * turns into a right answer only when the verifier adds well. That is where the large model's
 * takeovers pay off.
 */
public final class SumTask {

  /** What the paper's evaluation puts before every MATH500 problem. */
  public static final String INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}.";

  public static final int COUNT = 6;

  /** Chance that a forward step's sum is wrong in a training trace. */
  public static final double SLIP = 0.12;
  /** Chance that a slip is corrected at once by a "Wait, ..." paragraph (else the verification catches it). */
  public static final double CORRECTED = 0.6;

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
   * A training trace for {@code p}: paragraphs separated by blank lines, ending with the boxed
   * answer. {@code rng} draws the slips.
   */
  public static String trace(Problem p, SplittableRandom rng) {
    return trace(p, rng, SLIP, CORRECTED);
  }

  /**
   * As {@link #trace(Problem, SplittableRandom)}, with other rates of slips and of slips corrected
   * at once. The fewer are corrected at once, the more traces end in a verification that does not
   * match the forward sum: the case a verifier has to learn to call out.
   */
  public static String trace(Problem p, SplittableRandom rng, double slip, double corrected) {
    return trace(p, rng, slip, corrected, 0.0);
  }

  /**
   * As {@link #trace(Problem, SplittableRandom, double, double)}, where each number may also be
   * misread when the forward pass copies it from the question (a digit off), with chance {@code
   * misread}. A misread is never corrected at once: only a verification that reads the numbers
   * from the question itself, not from the forward steps, catches it. With {@code misread} 0 no
   * draw is made, so the traces are those of the four-argument form.
   */
  public static String trace(Problem p, SplittableRandom rng, double slip, double corrected, double misread) {
    if (!(slip >= 0 && slip < 1)) throw new IllegalArgumentException("the slip rate must be in [0, 1), got " + slip);
    if (!(corrected >= 0 && corrected <= 1))
      throw new IllegalArgumentException("the corrected share must be in [0, 1], got " + corrected);
    if (!(misread >= 0 && misread < 1)) throw new IllegalArgumentException("the misread rate must be in [0, 1), got " + misread);
    List<String> paragraphs = new ArrayList<>();
    int[] n = p.numbers();
    int[] read = new int[n.length];
    for (int i = 0; i < n.length; i++) read[i] = misread > 0 && rng.nextDouble() < misread ? misread(n[i], rng) : n[i];
    int total = read[0];
    paragraphs.add("Step 1: the first number is " + read[0] + ".");
    for (int i = 1; i < n.length; i++) {
      int right = total + read[i];
      String head = "Step " + (i + 1) + ": the running total is " + total + ", and the next number is " + read[i] + ". ";
      if (rng.nextDouble() < slip) {
        int wrong = slip(right, rng);
        paragraphs.add(head + total + " + " + read[i] + " = " + wrong + ".");
        if (rng.nextDouble() < corrected) {
          paragraphs.add("Wait, " + total + " + " + read[i] + " is not " + wrong + ". " + total + " + " + read[i] + " = "
              + right + ".");
          total = right;
        } else {
          total = wrong;
        }
      } else {
        paragraphs.add(head + total + " + " + read[i] + " = " + right + ".");
        total = right;
      }
    }
    paragraphs.add("So the sum is " + total + ".");
    StringBuilder verify = new StringBuilder("Let me verify in reverse order: ");
    int back = n[n.length - 1];
    for (int i = n.length - 2; i >= 0; i--) {
      int next = back + n[i];
      verify.append(back).append(" + ").append(n[i]).append(" = ").append(next).append(i > 0 ? ", " : ".");
      back = next;
    }
    paragraphs.add(verify.toString());
    if (back == total) {
      paragraphs.add("Yes, it matches.");
    } else {
      paragraphs.add("Wait, it does not match. The sum is " + back + ".");
    }
    paragraphs.add("The final answer is \\boxed{" + back + "}.");
    return String.join("\n\n", paragraphs);
  }

  /** A two-digit number copied with one digit off. */
  private static int misread(int number, SplittableRandom rng) {
    for (;;) {
      int w = number + (rng.nextBoolean() ? 1 : 10) * (rng.nextBoolean() ? 1 : -1);
      if (w >= 10 && w <= 99) return w;
    }
  }

  /** A plausible wrong sum: one digit off, or a carry forgotten or added. */
  private static int slip(int right, SplittableRandom rng) {
    int[] deltas = {1, -1, 10, -10, 2, -2, 9, -9};
    for (;;) {
      int w = right + deltas[rng.nextInt(deltas.length)];
      if (w >= 10 && w != right) return w;
    }
  }
}
