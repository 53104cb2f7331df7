package io.tandem.orchestrator.machine;

import static io.tandem.orchestrator.machine.Scripts.at;
import static io.tandem.orchestrator.machine.Scripts.config;
import static io.tandem.orchestrator.machine.Scripts.machine;
import static io.tandem.orchestrator.machine.Scripts.span;
import static io.tandem.orchestrator.machine.Scripts.tokens;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tandem.protocol.Author;
import io.tandem.protocol.Counters;
import io.tandem.protocol.Role;
import io.tandem.protocol.SpanReason;
import io.tandem.protocol.Trace;
import io.tandem.protocol.config.SpeculativeConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Negative steps, recaps with growing budgets, and verify continuations, traced by hand. */
class RecapAndVerifyTest {

  @Test
  void negativeStepsTriggerRecapsWhoseBudgetAndThresholdGrowUpToTheirCaps() {
    // Every look-ahead says "Wait" and so does every takeover (choose_large): each kept step is
    // negative. recap after 1, then 2 (= cap), budget 2, then 3 (= cap), then 3.
    List<String> small =
        at(30,
            0, "A", 1, "\n\n", 2, "Wait", 3, "b", 4, "\n\n", 8, "\n\n", 9, "Wait", 10, "c",
            11, "\n\n", 12, "Wait", 13, "d", 14, "\n\n", 19, "\n\n", 20, "Wait", 21, "e",
            22, "\n\n", 23, "Wait", 24, "f", 25, "\n\n");
    List<String> large =
        at(30,
            2, "Wait", 3, "x", 6, "r", 7, "s", 9, "Wait", 10, "y", 12, "Wait", 13, "z",
            16, "t", 17, "u", 18, "v", 20, "Wait", 21, "w", 23, "Wait", 24, "q",
            27, "k", 28, "l", 29, "m");
    SpeculativeConfig c =
        config(
            b -> {
              b.maxTargetTokens = 2;
              b.helpRecapWords = "R:";
              b.recapAfterNegativeNum = 1;
              b.addEachNeg = 1;
              b.maxNegativeNum = 2;
              b.originalRecapTokenNum = 2;
              b.addEachRecap = 1;
              b.maxRecapTokenNum = 3;
            });
    ScriptedDriver driver = new ScriptedDriver(small, large);

    Trace trace = driver.run(machine(c));

    // trigger 1 (pos 2): takeover "Waitx", neg 1.
    // trigger 2 (pos 5): neg 1 >= 1 -> "R:" at 5, large "rs" (budget 2); then budget 3, after 2.
    // triggers 3, 4 (pos 9, 12): takeovers "Waity", "Waitz", neg 2.
    // trigger 5 (pos 15): neg 2 >= 2 -> "R:" at 15, large "tuv" (budget 3); budget min(4,3) = 3,
    //   after min(3,2) = 2.
    // triggers 6, 7 (pos 20, 23): takeovers "Waitw", "Waitq", neg 2.
    // trigger 8 (pos 26): neg 2 >= 2 -> "R:" at 26, large "klm" (budget 3, capped); draft [eos].
    assertEquals(
        "A\n\nWaitx\n\nR:rs\n\nWaity\n\nWaitz\n\nR:tuv\n\nWaitw\n\nWaitq\n\nR:klm", trace.text());
    List<Step.Generate> recaps =
        driver.steps().stream().filter(s -> s.reason() == SpanReason.recap).toList();
    assertEquals(List.of(5, 15, 26), recaps.stream().map(Step.Generate::basePosition).toList());
    assertEquals(List.of(2, 3, 3), recaps.stream().map(Step.Generate::maxNewTokens).toList());
    assertTrue(recaps.stream().allMatch(s -> s.role() == Role.large && "R:".equals(s.inject()) && s.alwaysKept()));
    assertEquals(
        List.of(
            span(Author.injected, SpanReason.recap, 5, 6, "R:"),
            span(Author.large, SpanReason.recap, 6, 8, "rs"),
            span(Author.injected, SpanReason.recap, 15, 16, "R:"),
            span(Author.large, SpanReason.recap, 16, 19, "tuv"),
            span(Author.injected, SpanReason.recap, 26, 27, "R:"),
            span(Author.large, SpanReason.recap, 27, 30, "klm")),
        trace.spans().stream().filter(s -> s.reason() == SpanReason.recap).toList());
    // 8 triggers, 5 look-aheads and takeovers, 3 recaps, 5 negative steps; small wrote A, 8 "\n\n"
    // and eos, large 5x2 + 2+3+3, 3 injected; 5x2 look-ahead tokens dropped.
    assertEquals(new Counters(8, 5, 5, 0, 3, 5, 10, 18, 3, 10, 0), trace.counters());
  }

  @Test
  void aKeptStepThatAsksToVerifyIsContinuedByTheLargeModelForOriginalRecapTokenNum() {
    ScriptedDriver driver =
        new ScriptedDriver(
            tokens("A", "\n\n", "Yes", "b"), at(7, 2, " verify", 3, "x", 4, "c", 5, "d", 6, "e"));
    SpeculativeConfig c =
        config(
            b -> {
              b.maxTargetTokens = 2;
              b.originalRecapTokenNum = 3;
            });

    Trace trace = driver.run(machine(c));

    // look-ahead "Yesb" (+1) -> takeover " verifyx" (-1: verify counts as negative), kept;
    // it contains "verify" -> the large model goes on for 3 tokens from position 4.
    Step.Generate verify = driver.steps().get(3);
    assertEquals(
        new Step.Generate(Role.large, SpanReason.verify, 4, null, 3, 96, false, List.of("\n\n"), true),
        verify);
    assertEquals("A\n\n verifyxcde", trace.text());
    assertEquals(
        List.of(
            span(Author.small, SpanReason.draft, 0, 2, "A\n\n"),
            span(Author.large, SpanReason.takeover, 2, 4, " verifyx"),
            span(Author.large, SpanReason.verify, 4, 7, "cde"),
            span(Author.small, SpanReason.draft, 7, 8, "")),
        trace.spans());
    assertEquals(new Counters(1, 1, 1, 1, 0, 1, 3, 5, 0, 2, 0), trace.counters());
  }

  @Test
  void theVerifyContinuationKeepsTheOriginalBudgetAfterRecapsHaveGrownTheRecapBudget() {
    ScriptedDriver driver =
        new ScriptedDriver(
            at(12, 0, "A", 1, "\n\n", 6, "\n\n", 7, "Yes", 8, "b"),
            at(12, 3, "r", 4, "s", 5, "t", 7, " check", 8, "x", 9, "c", 10, "d", 11, "e"));
    SpeculativeConfig c =
        config(
            b -> {
              b.maxTargetTokens = 2;
              b.helpRecapWords = "R:";
              b.originalRecapTokenNum = 3;
              b.recapAfterNegativeNum = 0;
              b.addEachRecap = 1;
              b.addEachNeg = 1;
              b.maxRecapTokenNum = 10;
              b.maxNegativeNum = 10;
            });

    Trace trace = driver.run(machine(c));

    // trigger 1: neg 0 >= 0 -> recap "R:" + "rst" (budget 3, now 4; threshold now 1).
    // draft from 6 is "\n\n" -> trigger 2: neg 0 < 1 -> look-ahead "Yesb",
    // takeover " checkx" kept -> verify for 3 tokens (not the grown 4): "cde"; draft [eos].
    assertEquals("A\n\nR:rst\n\n checkxcde", trace.text());
    Step.Generate verify =
        driver.steps().stream().filter(s -> s.reason() == SpanReason.verify).findFirst().orElseThrow();
    assertEquals(3, verify.maxNewTokens());
    assertEquals(9, verify.basePosition());
    assertEquals(new Counters(2, 1, 1, 1, 1, 1, 4, 8, 1, 2, 0), trace.counters());
  }
}
