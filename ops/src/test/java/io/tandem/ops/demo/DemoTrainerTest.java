package io.tandem.ops.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tandem.inference.hf.TrainableDecoder;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Short training runs of a one-layer model on the demo task. */
class DemoTrainerTest {

  private static final int VOCAB = DemoTokenizer.build().vocabSize();

  private static DemoTrainer trainer(Path dir, ByteArrayOutputStream log) throws Exception {
    DemoTokenizer.build().write(dir.resolve("tok"));
    return new DemoTrainer(dir.resolve("tok"), new PrintStream(log, true, StandardCharsets.UTF_8));
  }

  private static TrainableDecoder.Shape2 tiny(int vocab) {
    return new TrainableDecoder.Shape2(vocab, 32, 64, 1, 2, 1, 512);
  }

  @Test
  void aFewStepsLowerTheLossAndSaveAModelFolder(@TempDir Path dir) throws Exception {
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    DemoTrainer trainer = trainer(dir, log);
    DemoTrainer.Report r = trainer.train(
        new DemoTrainer.Plan("tiny", tiny(VOCAB), 8, 3e-3f, 0, 60, null, DemoTrainer.Traces.DECISIVE, SumTask.SLIP,
            0.0, SumTask.MISREAD, 25, 5f),
        11, dir.resolve("out"));
    assertEquals(60, r.steps());
    assertTrue(r.finalLoss() < r.firstLoss() - 0.5, "loss " + r.firstLoss() + " -> " + r.finalLoss());
    assertTrue(Files.size(dir.resolve("out/model.safetensors")) > 0);
    assertTrue(Files.exists(dir.resolve("out/tokenizer.json")));
    for (String snapshot : new String[] {"out-step25", "out-step50"}) {
      assertTrue(Files.size(dir.resolve(snapshot).resolve("model.safetensors")) > 0, snapshot);
      assertTrue(Files.exists(dir.resolve(snapshot).resolve("tokenizer.json")), snapshot);
    }
    assertFalse(Files.exists(dir.resolve("out-step60")), "the last step is the folder itself");
    assertTrue(log.toString(StandardCharsets.UTF_8).contains("0 non-finite steps skipped"), log.toString(StandardCharsets.UTF_8));
  }

  /** A budget shorter than one step still trains one: the untrained weights were saved with a loss of NaN. */
  @Test
  void aBudgetOfMinutesShorterThanAStepStillTrainsOne(@TempDir Path dir) throws Exception {
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    DemoTrainer.Report r = trainer(dir, log).train(
        new DemoTrainer.Plan("tiny", tiny(VOCAB), 2, 3e-3f, 1e-300, 0, null, DemoTrainer.Traces.DECISIVE), 11, dir.resolve("out"));
    assertEquals(1, r.steps());
    assertTrue(Double.isFinite(r.firstLoss()) && Double.isFinite(r.finalLoss()), r.firstLoss() + " -> " + r.finalLoss());
  }

  @Test
  void weightsThatTurnNonFiniteStopTrainingWithAnErrorAndSaveNothing(@TempDir Path dir) throws Exception {
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    DemoTrainer trainer = trainer(dir, log);
    // A learning rate of 1e30 throws every weight out of float range at the first update; from
    // then on every loss is NaN, each step is skipped, and the run gives up instead of saving.
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> trainer.train(
        new DemoTrainer.Plan("tiny", tiny(VOCAB), 2, 1e30f, 0, 40, null, DemoTrainer.Traces.OVER_REFLECTING), 11, dir.resolve("out")));
    assertTrue(e.getMessage().contains("10 steps in a row had a non-finite loss"), e.getMessage());
    assertTrue(log.toString(StandardCharsets.UTF_8).contains("update skipped"), log.toString(StandardCharsets.UTF_8));
    assertFalse(Files.exists(dir.resolve("out/model.safetensors")));
  }

  @Test
  void decisiveTracesWithEveryStepSlippedSayTheSumsDoNotMatchAndGiveTheVerifiedOne() {
    java.util.SplittableRandom rng = new java.util.SplittableRandom(3);
    int mismatches = 0;
    for (int i = 0; i < 20; i++) {
      SumTask.Problem p = SumTask.problem(5, i);
      String slipped = SumTask.decisive(p, rng, 0.999, 0.0);
      assertFalse(slipped.contains("the running total is " + p.numbers()[0] + ", and the next number is "
          + p.numbers()[1] + ". " + p.numbers()[0] + " + " + p.numbers()[1] + " = " + (p.numbers()[0] + p.numbers()[1]) + "."),
          "the second step slipped: " + slipped);
      java.util.regex.Matcher forward = java.util.regex.Pattern.compile("So the sum is (\\d+)\\.").matcher(slipped);
      assertTrue(forward.find(), slipped);
      int t = Integer.parseInt(forward.group(1));
      if (t != p.answer()) {
        mismatches++;
        assertTrue(slipped.contains(p.answer() + " and " + t + ": " + SumTask.comparison(p.answer(), t)
            + ". Wait, it does not match. The sum is " + p.answer() + "."), slipped);
        assertTrue(SumTask.comparison(p.answer(), t).contains(" is not "), slipped);
      } else {
        assertTrue(slipped.contains(p.answer() + " and " + t + ": " + SumTask.comparison(t, t) + ". Yes, it matches."),
            "slips that cancel out: " + slipped);
      }
      assertEquals(VerdictCheck.Finding.TRUE, VerdictCheck.check(p.question(), slipped), slipped);
      assertTrue(slipped.endsWith("\\boxed{" + p.answer() + "}."), slipped);
      String clean = SumTask.decisive(p, rng, 0.0, 0.0);
      assertTrue(clean.contains(p.answer() + " and " + p.answer() + ": " + SumTask.comparison(p.answer(), p.answer())
          + ". Yes, it matches."), clean);
      assertFalse(clean.contains("Wait"), "the large model's traces never loop: " + clean);
      assertTrue(clean.endsWith("\\boxed{" + p.answer() + "}."), clean);
    }
    assertTrue(mismatches >= 15, "uncorrected slips almost always leave a mismatch: " + mismatches + " of 20");
    assertThrows(IllegalArgumentException.class, () -> SumTask.decisive(SumTask.problem(5, 0), rng, 1.0, 0.0));
    assertThrows(IllegalArgumentException.class, () -> SumTask.decisive(SumTask.problem(5, 0), rng, 0.1, -0.1));
  }

  @Test
  void misreadNumbersAreCaughtOnlyByTheVerificationWhichReadsTheQuestion() {
    java.util.SplittableRandom rng = new java.util.SplittableRandom(4);
    for (int i = 0; i < 20; i++) {
      SumTask.Problem p = SumTask.problem(6, i);
      String t = SumTask.decisive(p, rng, 0.0, 0.999);
      int[] n = p.numbers();
      assertFalse(t.startsWith("Step 1: the first number is " + n[0] + "."), "the first number was misread: " + t);
      StringBuilder verify = new StringBuilder("Let me verify in reverse order: ");
      int back = n[n.length - 1];
      for (int k = n.length - 2; k >= 0; k--) {
        verify.append(back).append(" + ").append(n[k]).append(" = ").append(back + n[k]).append(k > 0 ? ", " : ".");
        back += n[k];
      }
      assertTrue(t.contains(verify), "the verification adds the question's numbers: " + t);
      assertEquals(VerdictCheck.Finding.TRUE, VerdictCheck.check(p.question(), t), t);
      assertTrue(t.endsWith("\\boxed{" + p.answer() + "}."), t);
    }
  }

  @Test
  void verifyingTracesAreTheFirstDemoPairsCorrectedSlipsThenAVerdictAlone() {
    java.util.SplittableRandom rng = new java.util.SplittableRandom(8);
    for (int i = 0; i < 20; i++) {
      SumTask.Problem p = SumTask.problem(9, i);
      String corrected = SumTask.verifying(p, rng, 0.999, 1.0, 0.0);
      assertTrue(corrected.contains(" is not "), "every slip is corrected at once: " + corrected);
      assertTrue(corrected.contains("\n\nYes, it matches.\n\n"), corrected);
      assertEquals(VerdictCheck.Finding.TRUE, VerdictCheck.check(p.question(), corrected), corrected);
      String uncorrected = SumTask.verifying(p, rng, 0.999, 1e-9, 0.0);
      assertFalse(uncorrected.contains(" is not "), uncorrected);
      assertEquals(VerdictCheck.Finding.TRUE, VerdictCheck.check(p.question(), uncorrected), uncorrected);
      assertTrue(uncorrected.endsWith("\\boxed{" + p.answer() + "}."), uncorrected);
    }
    String t = SumTask.verifying(SumTask.problem(9, 0), rng, 0.0, 0.6, 0.0);
    assertTrue(t.substring(SumTask.verdictOffset(t)).startsWith("Yes, it matches."), t);
    assertThrows(IllegalArgumentException.class, () -> SumTask.verifying(SumTask.problem(9, 0), rng, 0.1, 0.0, 0.0));
  }

  @Test
  void overReflectingTracesReAddEveryNumberAfterTheSumAndNeverVerify() {
    SumTask.Problem p = SumTask.problem(new int[] {40, 85, 79, 26, 57, 87});
    String t = SumTask.overReflecting(p);
    String[] paragraphs = t.split("\n\n");
    assertEquals(6 + 1 + 5 + 2, paragraphs.length, t);
    assertEquals("So the sum is 374.", paragraphs[6]);
    assertEquals("Wait, the running total is 40, and the next number is 85. 40 + 85 = 125.", paragraphs[7]);
    assertEquals("Wait, the running total is 287, and the next number is 87. 287 + 87 = 374.", paragraphs[11]);
    assertEquals("So the sum is 374.", paragraphs[12]);
    assertEquals("The final answer is \\boxed{374}.", paragraphs[13]);
    assertFalse(t.contains("verify"), t);
    assertEquals(VerdictCheck.Finding.NONE, VerdictCheck.check(p.question(), t));
  }

  @Test
  void theVerdictOffsetIsTheWordThatSaysWhetherTheSumsMatch() {
    SumTask.Problem p = SumTask.problem(7, 0);
    java.util.SplittableRandom rng = new java.util.SplittableRandom(1);
    for (String t : new String[] {SumTask.decisive(p, rng, 0.0, 0.0), SumTask.decisive(p, rng, 0.999, 0.0)}) {
      String rest = t.substring(SumTask.verdictOffset(t));
      assertTrue(rest.startsWith(" Yes, it matches.") || rest.startsWith(" Wait, it does not match."), rest);
    }
    assertThrows(IllegalArgumentException.class, () -> SumTask.verdictOffset(SumTask.overReflecting(p)));
  }

  @Test
  void aPlanWithoutAUsableLearningRateOrBudgetIsRefused() {
    TrainableDecoder.Shape2 shape = tiny(100);
    assertThrows(IllegalArgumentException.class, () -> new DemoTrainer.Plan("s", shape, 4, Float.NaN, 0, 10, null, DemoTrainer.Traces.DECISIVE));
    assertThrows(IllegalArgumentException.class, () -> new DemoTrainer.Plan("s", shape, 4, -1e-3f, 0, 10, null, DemoTrainer.Traces.DECISIVE));
    assertThrows(IllegalArgumentException.class, () -> new DemoTrainer.Plan("s", shape, 0, 1e-3f, 0, 10, null, DemoTrainer.Traces.DECISIVE));
    assertThrows(IllegalArgumentException.class, () -> new DemoTrainer.Plan("s", shape, 4, 1e-3f, 0, 0, null, DemoTrainer.Traces.DECISIVE));
    assertThrows(IllegalArgumentException.class, () -> new DemoTrainer.Plan("s", shape, 4, 1e-3f, 1, -5, null, DemoTrainer.Traces.DECISIVE));
  }
}
