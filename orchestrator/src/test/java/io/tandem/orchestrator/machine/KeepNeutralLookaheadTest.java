package io.tandem.orchestrator.machine;

import static io.tandem.orchestrator.machine.Scripts.config;
import static io.tandem.orchestrator.machine.Scripts.machine;
import static io.tandem.orchestrator.machine.Scripts.span;
import static io.tandem.orchestrator.machine.Scripts.tokens;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tandem.protocol.Author;
import io.tandem.protocol.Counters;
import io.tandem.protocol.FinishReason;
import io.tandem.protocol.SpanReason;
import io.tandem.protocol.Trace;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Tandem's keep_neutral_lookahead: a neutral look-ahead is a sample of the small model, so keeping
 * it up to its first trigger gives the same output as the reference's redraft, with less work.
 */
class KeepNeutralLookaheadTest {
  private static final List<String> SMALL = tokens("A", "\n\n", "b", "\n\n", "c", "d");

  @Test
  void offTheNeutralLookaheadIsDiscardedAndRedraftedAsInTheReference() {
    ScriptedDriver driver = new ScriptedDriver(SMALL, List.of());

    Trace trace = driver.run(machine(config(b -> b.maxTargetTokens = 4)));

    // draft "A\n\n"; look-ahead "b\n\ncd" dropped; draft "b\n\n"; look-ahead "cd"[eos] dropped;
    // draft "cd"[eos].
    assertEquals(5, driver.steps().size());
    assertEquals("A\n\nb\n\ncd", trace.text());
    assertEquals(
        List.of(
            span(Author.small, SpanReason.draft, 0, 2, "A\n\n"),
            span(Author.small, SpanReason.draft, 2, 4, "b\n\n"),
            span(Author.small, SpanReason.draft, 4, 7, "cd")),
        trace.spans());
    assertEquals(new Counters(2, 2, 0, 0, 0, 0, 7, 0, 0, 7, 0), trace.counters());
  }

  @Test
  void onTheNeutralLookaheadIsKeptUpToItsFirstTriggerAndDecidedOnAtOnce() {
    ScriptedDriver driver = new ScriptedDriver(SMALL, List.of());

    Trace trace =
        driver.run(
            machine(
                config(
                    b -> {
                      b.maxTargetTokens = 4;
                      b.keepNeutralLookahead = true;
                    })));

    // draft "A\n\n"; look-ahead "b\n\ncd": keep "b\n\n" (a trigger) and drop "cd"; look-ahead
    // from 4: "cd"[eos], neutral, kept whole: its eos ends the generation.
    assertEquals(3, driver.steps().size());
    assertEquals(4, driver.steps().get(2).basePosition());
    assertEquals(SpanReason.lookahead, driver.steps().get(2).reason());
    assertEquals("A\n\nb\n\ncd", trace.text());
    assertEquals(FinishReason.stop, trace.finishReason());
    assertEquals(
        List.of(
            span(Author.small, SpanReason.draft, 0, 2, "A\n\n"),
            span(Author.small, SpanReason.lookahead, 2, 4, "b\n\n"),
            span(Author.small, SpanReason.lookahead, 4, 7, "cd")),
        trace.spans());
    assertEquals(new Counters(2, 2, 0, 0, 0, 0, 7, 0, 0, 2, 0), trace.counters());
  }

  @Test
  void onANeutralLookaheadWithoutATriggerIsKeptWholeAndTheSmallModelDraftsOn() {
    ScriptedDriver driver =
        new ScriptedDriver(tokens("A", "\n\n", "b", "c", "d", "e", "\n\n"), List.of());

    Trace trace =
        driver.run(
            machine(
                config(
                    b -> {
                      b.maxTargetTokens = 4;
                      b.keepNeutralLookahead = true;
                    })));

    // look-ahead "bcde" kept; draft "\n\n"; look-ahead [eos] kept: stop.
    assertEquals("A\n\nbcde\n\n", trace.text());
    assertEquals(
        List.of(
            span(Author.small, SpanReason.draft, 0, 2, "A\n\n"),
            span(Author.small, SpanReason.lookahead, 2, 6, "bcde"),
            span(Author.small, SpanReason.draft, 6, 7, "\n\n"),
            span(Author.small, SpanReason.lookahead, 7, 8, "")),
        trace.spans());
    assertEquals(new Counters(2, 2, 0, 0, 0, 0, 8, 0, 0, 0, 0), trace.counters());
  }
}
