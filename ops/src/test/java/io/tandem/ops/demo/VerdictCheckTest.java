package io.tandem.ops.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.tandem.ops.demo.VerdictCheck.Finding;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The checker behind "every verification sentence is true", on answers whose truth is known. */
class VerdictCheckTest {

  static final SumTask.Problem P = SumTask.problem(new int[] {40, 85, 79, 26, 57, 87});
  static final String VERIFY = "Let me verify in reverse order: 87 + 57 = 144, 144 + 26 = 170, 170 + 79 = 249, "
      + "249 + 85 = 334, 334 + 40 = 374.";

  static String answer(int forward, String verification, String verdict) {
    return "Step 1: the first number is 40.\n\nSo the sum is " + forward + ".\n\n" + verification + "\n\n" + verdict
        + "\n\nThe final answer is \\boxed{374}.";
  }

  @Test
  void theTasksOwnDecisiveTracesAreAllTrue() {
    SplittableRandom rng = new SplittableRandom(1);
    for (int i = 0; i < 300; i++) {
      SumTask.Problem p = SumTask.problem(2, i);
      String t = SumTask.decisive(p, rng, 0.2, 0.1);
      assertEquals(Finding.TRUE, VerdictCheck.check(p.question(), t), t);
    }
  }

  @Test
  void aVerdictIsTrueOnlyWhenItSaysMatchExactlyWhenTheSumsMatch() {
    assertEquals(Finding.TRUE, VerdictCheck.check(P.question(), answer(374, VERIFY, "374 and 374. Yes, it matches.")));
    assertEquals(Finding.TRUE, VerdictCheck.check(P.question(),
        answer(384, VERIFY, "374 and 384. Wait, it does not match. The sum is 374.")));
    assertEquals(Finding.FALSE_MATCH, VerdictCheck.check(P.question(), answer(384, VERIFY, "374 and 384. Yes, it matches.")));
    assertEquals(Finding.FALSE_MISMATCH, VerdictCheck.check(P.question(),
        answer(374, VERIFY, "374 and 374. Wait, it does not match. The sum is 374.")));
  }

  @Test
  void digitByDigitComparisonsMustBeTrueAndStopAtTheFirstDifference() {
    assertEquals("3 is 3, 7 is 7, 4 is 4", SumTask.comparison(374, 374));
    assertEquals("3 is 3, 7 is not 8", SumTask.comparison(374, 384));
    assertEquals("1 is not 9", SumTask.comparison(101, 99));
    assertEquals(Finding.TRUE, VerdictCheck.check(P.question(),
        answer(374, VERIFY, "374 and 374: 3 is 3, 7 is 7, 4 is 4. Yes, it matches.")));
    assertEquals(Finding.TRUE, VerdictCheck.check(P.question(),
        answer(384, VERIFY, "374 and 384: 3 is 3, 7 is not 8. Wait, it does not match. The sum is 374.")));
    assertEquals(Finding.COMPARISON_WRONG, VerdictCheck.check(P.question(),
        answer(384, VERIFY, "374 and 384: 3 is 3, 7 is 8. Wait, it does not match. The sum is 374.")), "a false 'is'");
    assertEquals(Finding.COMPARISON_WRONG, VerdictCheck.check(P.question(),
        answer(374, VERIFY, "374 and 374: 3 is 3, 7 is not 7. Yes, it matches.")), "a false 'is not'");
    assertEquals(Finding.COMPARISON_WRONG, VerdictCheck.check(P.question(),
        answer(374, VERIFY, "374 and 374: 3 is 3, 7 is 7. Yes, it matches.")), "stopped before the last digit");
    assertEquals(Finding.FALSE_MATCH, VerdictCheck.check(P.question(),
        answer(384, VERIFY, "374 and 384: 3 is 3, 7 is not 8. Yes, it matches.")));
  }

  @Test
  void theDecidingWordsAreEachComparisonsSecondWordAndTheVerdict() {
    String trace = "So the sum is 384.\n\n" + VERIFY + "\n\n374 and 384: 3 is 3, 7 is not 8. Wait, it does not match.";
    java.util.List<String> words = new java.util.ArrayList<>();
    for (int offset : SumTask.decisionOffsets(trace)) words.add(trace.substring(offset, trace.indexOf(' ', offset + 1)));
    assertEquals(java.util.List.of(" 3,", " not", " Wait,"), words);
  }

  @Test
  void aVerdictWithoutTheSumsBesideItIsJudgedTheSameWay() {
    assertEquals(Finding.TRUE, VerdictCheck.check(P.question(), answer(374, VERIFY, "Yes, it matches.")));
    assertEquals(Finding.TRUE, VerdictCheck.check(P.question(), answer(384, VERIFY, "Wait, it does not match. The sum is 374.")));
    assertEquals(Finding.FALSE_MISMATCH, VerdictCheck.check(P.question(),
        answer(374, VERIFY, "Wait, it does not match. The sum is 374.")));
  }

  @Test
  void theSumsBesideTheVerdictMustBeTheOnesComputed() {
    assertEquals(Finding.SUMS_COPIED_WRONG, VerdictCheck.check(P.question(),
        answer(384, VERIFY, "374 and 385. Wait, it does not match. The sum is 374.")));
    assertEquals(Finding.SUMS_COPIED_WRONG, VerdictCheck.check(P.question(),
        answer(374, VERIFY, "374 and 375. Yes, it matches.")));
  }

  @Test
  void aFalseVerdictIsCountedAsSuchWhateverItCopiedOrCompared() {
    assertEquals(Finding.FALSE_MATCH, VerdictCheck.check(P.question(), answer(384, VERIFY, "374 and 374. Yes, it matches.")));
    assertEquals(Finding.FALSE_MATCH, VerdictCheck.check(P.question(),
        answer(384, VERIFY, "374 and 384: 3 is 3, 7 is 7, 4 is 4. Yes, it matches.")));
    assertEquals(Finding.FALSE_MISMATCH, VerdictCheck.check(P.question(),
        answer(374, VERIFY, "364 and 374. Wait, it does not match. The sum is 364.")));
  }

  @Test
  void aMismatchMustNameTheTrueSum() {
    String wrongVerification = VERIFY.replace("334 + 40 = 374.", "334 + 40 = 364.");
    assertEquals(Finding.VERIFICATION_WRONG, VerdictCheck.check(P.question(),
        answer(374, wrongVerification, "364 and 374. Wait, it does not match. The sum is 364.")));
    assertEquals(Finding.NAMED_SUM_WRONG, VerdictCheck.check(P.question(),
        answer(384, VERIFY, "374 and 384. Wait, it does not match. The sum is 384.")));
  }

  @Test
  void aVerificationMustAddTheQuestionsNumbersAllOfThem() {
    assertEquals(Finding.VERIFICATION_WRONG, VerdictCheck.check(P.question(),
        answer(374, VERIFY.replace("87 + 57 = 144", "87 + 58 = 145"), "374 and 374. Yes, it matches.")));
    assertEquals(Finding.VERIFICATION_WRONG, VerdictCheck.check(P.question(),
        answer(374, VERIFY.replace(", 334 + 40 = 374.", "."), "334 and 374. Wait, it does not match. The sum is 334.")));
  }

  @Test
  void answersWithoutAVerificationHaveNothingToCheckAndAVerdictAloneIsCalledOut() {
    assertEquals(Finding.NONE, VerdictCheck.check(P.question(), SumTask.overReflecting(P)));
    assertEquals(Finding.NO_VERDICT, VerdictCheck.check(P.question(), answer(374, VERIFY, "So the sum is 374.")));
    assertEquals(Finding.NO_VERDICT, VerdictCheck.check(P.question(), "So the sum is 374.\n\n374 and 374. Yes, it matches."));
    assertEquals(Finding.NO_VERDICT, VerdictCheck.check(P.question(), "So the sum is 374.\n\n" + VERIFY));
  }

  @Test
  void aQuestionThatIsNotADemoSumIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> VerdictCheck.check("What is 2 + 2?", "4"));
  }
}
