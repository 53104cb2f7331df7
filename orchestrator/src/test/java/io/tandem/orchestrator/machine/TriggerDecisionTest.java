package io.tandem.orchestrator.machine;

import static io.tandem.orchestrator.machine.Scripts.at;
import static io.tandem.orchestrator.machine.Scripts.config;
import static io.tandem.orchestrator.machine.Scripts.machine;
import static io.tandem.orchestrator.machine.Scripts.span;
import static io.tandem.orchestrator.machine.Scripts.tokens;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tandem.protocol.Author;
import io.tandem.protocol.Counters;
import io.tandem.protocol.FinishReason;
import io.tandem.protocol.Role;
import io.tandem.protocol.SpanReason;
import io.tandem.protocol.Trace;
import io.tandem.protocol.config.SpeculativeConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What happens at a trigger: look-ahead, takeover or not (docs/ARCHITECTURE.md, "The algorithm"). Every
 * expected trace below is worked out by hand from the rules, with max_target_tokens 3.
 */
class TriggerDecisionTest {

  @Test
  void aNeutralLookaheadIsDiscardedAndTheSmallModelDraftsAgainFromTheTrigger() {
    ScriptedDriver driver = new ScriptedDriver(tokens("A", "\n\n", "b", "c", "d", "\n\n"), List.of());

    Trace trace = driver.run(machine(config(b -> {})));

    // draft "A\n\n"; look-ahead "bcd" (neutral, dropped); draft "bcd\n\n"; look-ahead [eos]
    // (neutral, dropped); draft [eos].
    List<String> triggers = List.of("\n\n");
    assertEquals(
        List.of(
            new Step.Generate(Role.small, SpanReason.draft, 0, null, 100, 100, true, triggers, true),
            new Step.Generate(Role.small, SpanReason.lookahead, 2, null, 3, 98, false, triggers, false),
            new Step.Generate(Role.small, SpanReason.draft, 2, null, 98, 98, true, triggers, true),
            new Step.Generate(Role.small, SpanReason.lookahead, 6, null, 3, 94, false, triggers, false),
            new Step.Generate(Role.small, SpanReason.draft, 6, null, 94, 94, true, triggers, true)),
        driver.steps());
    assertEquals("A\n\nbcd\n\n", trace.text());
    assertEquals(FinishReason.stop, trace.finishReason());
    assertEquals(
        List.of(
            span(Author.small, SpanReason.draft, 0, 2, "A\n\n"),
            span(Author.small, SpanReason.draft, 2, 6, "bcd\n\n"),
            span(Author.small, SpanReason.draft, 6, 7, "")),
        trace.spans());
    assertEquals(new Counters(2, 2, 0, 0, 0, 0, 7, 0, 0, 4, 0), trace.counters());
  }

  @Test
  void aPositiveLookaheadHandsTheStepToTheLargeModelWhenChooseLargeIsOn() {
    ScriptedDriver driver =
        new ScriptedDriver(tokens("A", "\n\n", "Yes", "b", "c", "d"), at(5, 2, "X", 3, "Y", 4, "Z"));

    Trace trace = driver.run(machine(config(b -> b.chooseLarge = true)));

    // look-ahead "Yesbc" is positive -> the large model writes "XYZ" from position 2, kept.
    Step.Generate takeover = driver.steps().get(2);
    assertEquals(Role.large, takeover.role());
    assertEquals(2, takeover.basePosition());
    assertTrue(takeover.alwaysKept(), "with choose_large the takeover is kept whatever it says");
    assertEquals("A\n\nXYZd", trace.text());
    assertEquals(
        List.of(
            span(Author.small, SpanReason.draft, 0, 2, "A\n\n"),
            span(Author.large, SpanReason.takeover, 2, 5, "XYZ"),
            span(Author.small, SpanReason.draft, 5, 7, "d")),
        trace.spans());
    assertEquals(new Counters(1, 1, 1, 0, 0, 0, 4, 3, 0, 3, 0), trace.counters());
  }

  @Test
  void withChooseLargeOffTheSmallLookaheadIsKeptWhenBothSentimentsArePositive() {
    ScriptedDriver driver =
        new ScriptedDriver(tokens("A", "\n\n", "Yes", "b", "c", "d"), at(5, 2, "Yeah", 3, "Y", 4, "Z"));

    Trace trace = driver.run(machine(config(b -> b.chooseLarge = false)));

    // s = +1, t = +1: neither (s<0, t>=0) nor (s>0, t<0) -> the look-ahead "Yesbc" stays.
    assertFalse(driver.steps().get(2).alwaysKept(), "without choose_large the takeover may be dropped");
    assertEquals("A\n\nYesbcd", trace.text());
    assertEquals(
        List.of(
            span(Author.small, SpanReason.draft, 0, 2, "A\n\n"),
            span(Author.small, SpanReason.lookahead, 2, 5, "Yesbc"),
            span(Author.small, SpanReason.draft, 5, 7, "d")),
        trace.spans());
    assertEquals(new Counters(1, 1, 1, 0, 0, 0, 7, 0, 0, 0, 3), trace.counters());
  }

  @Test
  void withChooseLargeOffANegativeLookaheadGivesWayToANonNegativeLargeStep() {
    ScriptedDriver driver =
        new ScriptedDriver(tokens("A", "\n\n", "Wait", "b", "c"), at(5, 2, "X", 3, "Y", 4, "Z"));

    Trace trace = driver.run(machine(config(b -> b.chooseLarge = false)));

    // s = -1 ("wait"), t = 0 -> large; what was taken is neutral, so no negative step.
    assertEquals("A\n\nXYZ", trace.text());
    assertEquals(span(Author.large, SpanReason.takeover, 2, 5, "XYZ"), trace.spans().get(1));
    assertEquals(new Counters(1, 1, 1, 0, 0, 0, 3, 3, 0, 3, 0), trace.counters());
  }

  @Test
  void withChooseLargeOffANegativeLookaheadStaysWhenTheLargeStepIsNegativeTooAndCountsAsNegative() {
    ScriptedDriver driver =
        new ScriptedDriver(tokens("A", "\n\n", "Wait", "b", "c"), at(5, 2, "Hold", 3, " on", 4, "Z"));

    Trace trace = driver.run(machine(config(b -> b.chooseLarge = false)));

    // s = -1, t = -1 ("hold on" across two tokens) -> small; its sentiment is negative.
    assertEquals("A\n\nWaitbc", trace.text());
    assertEquals(span(Author.small, SpanReason.lookahead, 2, 5, "Waitbc"), trace.spans().get(1));
    assertEquals(new Counters(1, 1, 1, 0, 0, 1, 6, 0, 0, 0, 3), trace.counters());
  }

  @Test
  void withChooseLargeOffAPositiveLookaheadGivesWayToANegativeLargeStep() {
    ScriptedDriver driver =
        new ScriptedDriver(tokens("A", "\n\n", "Yes", "b", "c"), at(5, 2, "Wait", 3, "Y", 4, "Z"));

    Trace trace = driver.run(machine(config(b -> b.chooseLarge = false)));

    // s = +1, t = -1 -> large, and the large step's sentiment (-1) counts as a negative step.
    assertEquals("A\n\nWaitYZ", trace.text());
    assertEquals(span(Author.large, SpanReason.takeover, 2, 5, "WaitYZ"), trace.spans().get(1));
    assertEquals(new Counters(1, 1, 1, 0, 0, 1, 3, 3, 0, 3, 0), trace.counters());
  }

  @Test
  void aTriggerSplitAcrossTwoTokensEndsTheDraftAfterTheTokenThatCompletesIt() {
    ScriptedDriver driver =
        new ScriptedDriver(tokens("A", "\n", "\nB", "c", "\n\n"), List.of());

    Trace trace = driver.run(machine(config(b -> b.maxTargetTokens = 2)));

    // draft "A","\n","\nB" (text "A\n\nB"); look-ahead "c\n\n" neutral, dropped; draft "c\n\n";
    // look-ahead [eos] dropped; draft [eos].
    assertEquals(3, driver.steps().get(1).basePosition());
    assertEquals(SpanReason.lookahead, driver.steps().get(1).reason());
    assertEquals("A\n\nBc\n\n", trace.text());
    assertEquals(2, trace.counters().triggers());
  }

  @Test
  void theLargeModelOpensWithBeginAndNotReasoningTakesOverEvenAtANeutralLookahead() {
    ScriptedDriver driver =
        new ScriptedDriver(
            at(7, 3, "a", 4, "\n\n", 5, "b", 6, "c"), at(7, 0, "B", 1, "C", 2, "\n\n", 5, "X", 6, "Y"));
    SpeculativeConfig c =
        config(
            b -> {
              b.begin = true;
              b.beginTokenNum = 3;
              b.notReasoning = true;
              b.maxTargetTokens = 2;
            });

    Trace trace = driver.run(machine(c));

    // begin: large writes "B","C","\n\n" (no trigger stop, no decision after it); draft "a\n\n";
    // look-ahead "bc" is neutral but not_reasoning -> large "XY", kept; draft [eos].
    Step.Generate begin = driver.steps().get(0);
    assertEquals(
        new Step.Generate(Role.large, SpanReason.begin, 0, null, 3, 100, false, List.of("\n\n"), true),
        begin);
    assertEquals(SpanReason.draft, driver.steps().get(1).reason());
    assertEquals("BC\n\na\n\nXY", trace.text());
    assertEquals(
        List.of(
            span(Author.large, SpanReason.begin, 0, 3, "BC\n\n"),
            span(Author.small, SpanReason.draft, 3, 5, "a\n\n"),
            span(Author.large, SpanReason.takeover, 5, 7, "XY"),
            span(Author.small, SpanReason.draft, 7, 8, "")),
        trace.spans());
    assertEquals(new Counters(1, 1, 1, 0, 0, 0, 3, 5, 0, 2, 0), trace.counters());
  }

  @Test
  void notReasoningWithChooseLargeOffKeepsANeutralLookaheadWhenTheLargeStepIsNeutralToo() {
    ScriptedDriver driver =
        new ScriptedDriver(at(7, 3, "a", 4, "\n\n", 5, "b", 6, "c"), at(7, 5, "X", 6, "Y"));
    SpeculativeConfig c =
        config(
            b -> {
              b.notReasoning = true;
              b.chooseLarge = false;
              b.maxTargetTokens = 2;
            });

    Trace trace = driver.run(machine(c));

    // draft "---a\n\n"; look-ahead "bc" (s = 0) -> large "XY" (t = 0) -> small kept.
    assertEquals("---a\n\nbc", trace.text());
    assertEquals(span(Author.small, SpanReason.lookahead, 5, 7, "bc"), trace.spans().get(1));
    assertEquals(new Counters(1, 1, 1, 0, 0, 0, 8, 0, 0, 0, 2), trace.counters());
  }

  @Test
  void helpThinkWordIsInjectedBeforeTheLookaheadStaysWhenItIsDroppedAndIsNotPartOfItsSentiment() {
    ScriptedDriver driver = new ScriptedDriver(tokens("A", "\n\n", "-", "b", "c"), List.of());
    SpeculativeConfig c =
        config(
            b -> {
              b.helpThinkWord = "Wait"; // a negative keyword: had it counted, s would be -1
              b.maxTargetTokens = 2;
            });

    Trace trace = driver.run(machine(c));

    // draft "A\n\n"; look-ahead injects "Wait" (position 2) then "bc" (neutral, dropped); draft
    // from position 3: "bc" [eos].
    Step.Generate lookahead = driver.steps().get(1);
    assertEquals("Wait", lookahead.inject());
    assertEquals(2, lookahead.basePosition());
    assertEquals(3, driver.steps().get(2).basePosition());
    assertEquals("A\n\nWaitbc", trace.text());
    assertEquals(
        List.of(
            span(Author.small, SpanReason.draft, 0, 2, "A\n\n"),
            span(Author.injected, SpanReason.think, 2, 3, "Wait"),
            span(Author.small, SpanReason.draft, 3, 6, "bc")),
        trace.spans());
    assertEquals(new Counters(1, 1, 0, 0, 0, 0, 5, 0, 1, 2, 0), trace.counters());
  }
}
