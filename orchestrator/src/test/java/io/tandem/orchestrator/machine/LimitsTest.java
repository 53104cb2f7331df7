package io.tandem.orchestrator.machine;

import static io.tandem.orchestrator.machine.Scripts.at;
import static io.tandem.orchestrator.machine.Scripts.config;
import static io.tandem.orchestrator.machine.Scripts.machine;
import static io.tandem.orchestrator.machine.Scripts.span;
import static io.tandem.orchestrator.machine.Scripts.tokens;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tandem.protocol.Author;
import io.tandem.protocol.FinishReason;
import io.tandem.protocol.SpanReason;
import io.tandem.protocol.Token;
import io.tandem.protocol.Trace;
import io.tandem.protocol.config.SpeculativeConfig;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** How a generation ends: eos, max_tokens, time_out, failure. */
class LimitsTest {

  private static Token t(String text) {
    return new Token(7, text);
  }

  @Test
  void anEosInTheDraftEndsTheGenerationAndItsTextIsNotOutput() {
    SpeculativeThinking m = machine(config(b -> {}));

    Trace trace = new ScriptedDriver(tokens("A"), List.of()).run(m);

    assertEquals(FinishReason.stop, trace.finishReason());
    assertEquals("A", trace.text());
    assertEquals(List.of(new Token(0, "A"), new Token(-1, "")), m.committed());
    assertEquals(List.of(span(Author.small, SpanReason.draft, 0, 2, "A")), trace.spans());
  }

  @Test
  void anEosInAKeptLookaheadEndsTheGeneration() {
    ScriptedDriver driver =
        new ScriptedDriver(tokens("A", "\n\n", "Yes"), tokens("-", "-", "Yeah", "x"));

    Trace trace = driver.run(machine(config(b -> b.chooseLarge = false)));

    // look-ahead "Yes" [eos] (+1); large "Yeahx" [eos] (+1): same sign -> small, with its eos.
    assertEquals(FinishReason.stop, trace.finishReason());
    assertEquals("A\n\nYes", trace.text());
    assertEquals(3, driver.steps().size());
    assertEquals(span(Author.small, SpanReason.lookahead, 2, 4, "Yes"), trace.spans().get(1));
    assertEquals(3, trace.counters().largeTokensDiscarded());
  }

  @Test
  void anEosInALookaheadThatTheLargeModelReplacesDoesNotEndTheGeneration() {
    ScriptedDriver driver =
        new ScriptedDriver(tokens("A", "\n\n", "Yes"), at(5, 2, "X", 3, "Y", 4, "Z"));

    Trace trace = driver.run(machine(config(b -> b.chooseLarge = true)));

    // look-ahead "Yes" [eos] dropped for "XYZ"; the small model then drafts [eos] at 5.
    assertEquals("A\n\nXYZ", trace.text());
    assertEquals(4, driver.steps().size());
    assertEquals(2, trace.counters().smallTokensDiscarded());
  }

  @Test
  void anEosInATakeoverEndsTheGenerationWithoutAVerifyContinuation() {
    ScriptedDriver driver =
        new ScriptedDriver(tokens("A", "\n\n", "Yes", "b", "c"), tokens("-", "-", " verify"));

    Trace trace = driver.run(machine(config(b -> {})));

    assertEquals(FinishReason.stop, trace.finishReason());
    assertEquals("A\n\n verify", trace.text());
    assertEquals(3, driver.steps().size());
    assertEquals(0, trace.counters().verifies());
    assertEquals(1, trace.counters().negatives());
  }

  @Test
  void aDraftStopsAtMaxTokensWithFinishReasonLength() {
    ScriptedDriver driver = new ScriptedDriver(tokens("a", "b", "c", "d"), List.of());

    Trace trace = driver.run(new SpeculativeThinking(config(b -> {}), 3, () -> 0L));

    assertEquals(FinishReason.length, trace.finishReason());
    assertEquals("abc", trace.text());
    assertEquals(3, driver.steps().get(0).maxNewTokens());
  }

  @Test
  void aLookaheadAndATakeoverAreCappedByWhatIsLeftOfMaxTokens() {
    ScriptedDriver driver =
        new ScriptedDriver(tokens("A", "\n\n", "Yes", "b", "c"), at(5, 2, "X", 3, "Y", 4, "Z"));
    SpeculativeThinking m = new SpeculativeThinking(config(b -> {}), 4, () -> 0L);

    Trace trace = driver.run(m);

    // 2 tokens left after "A\n\n": look-ahead "Yesb" and takeover "XY" are cut to 2.
    assertEquals(2, driver.steps().get(1).maxNewTokens());
    assertEquals(2, driver.steps().get(1).maxTotalTokens());
    assertEquals(2, driver.steps().get(2).maxNewTokens());
    assertEquals("A\n\nXY", trace.text());
    assertEquals(4, m.committed().size());
    assertEquals(FinishReason.length, trace.finishReason());
  }

  @Test
  void recapWordsThatReachMaxTokensEndTheGenerationWithLength() {
    ScriptedDriver driver = new ScriptedDriver(tokens("A", "\n\n"), List.of());
    SpeculativeThinking m =
        new SpeculativeThinking(config(b -> b.recapAfterNegativeNum = 0), 3, () -> 0L);

    Trace trace = driver.run(m);

    // one token left at the trigger: the recap may inject and generate 1 token in all.
    Step.Generate recap = driver.steps().get(1);
    assertEquals(SpanReason.recap, recap.reason());
    assertEquals(1, recap.maxTotalTokens());
    assertEquals(1, recap.maxNewTokens());
    assertEquals("A\n\nLet me check whether there are some wrong steps:", trace.text());
    assertEquals(3, m.committed().size());
    assertEquals(FinishReason.length, trace.finishReason());
  }

  @Test
  void aWorkerThatOverrunsMaxTokensIsCutAtTheLimit() {
    SpeculativeThinking m =
        new SpeculativeThinking(config(b -> b.recapAfterNegativeNum = 0), 5, () -> 0L);

    m.next();
    m.accept(new StepResult(List.of(), List.of(t("A"), t("\n\n")), false));
    Step.Generate recap = (Step.Generate) m.next();
    assertEquals(3, recap.maxTotalTokens());
    // recap words straddling the limit: 4 word tokens and 2 generated, where 3 fit.
    m.accept(
        new StepResult(
            List.of(t("Let"), t(" me"), t(" check"), t(" whether")), List.of(t("x"), t("y")), false));

    assertEquals(new Step.Finish(FinishReason.length), m.next());
    assertEquals(5, m.committed().size());
    assertEquals("A\n\nLet me check", m.trace().text());
    assertEquals(3, m.trace().counters().injectedTokens());
  }

  @Test
  void aDraftThatRunsPastItsTriggerIsCutAfterTheTokenThatCompletesIt() {
    SpeculativeThinking m = machine(config(b -> {}));

    m.next();
    m.accept(new StepResult(List.of(), List.of(t("A"), t("\n"), t("\nB"), t("c")), false));

    Step.Generate lookahead = (Step.Generate) m.next();
    assertEquals(SpanReason.lookahead, lookahead.reason());
    assertEquals(3, lookahead.basePosition());
    assertEquals("A\n\nB", m.trace().text());
  }

  @Test
  void timeOutEndsTheGenerationWithTheTextSoFarOnceTheConfiguredSecondsHavePassed() {
    AtomicLong clock = new AtomicLong(5_000);
    SpeculativeConfig c = config(b -> b.timeOut = 10);
    SpeculativeThinking m = new SpeculativeThinking(c, 100, clock::get);

    Step draft = m.next();
    m.accept(new StepResult(List.of(), List.of(t("A"), t("\n\n")), false));
    Step lookahead = m.next();
    clock.addAndGet(10_000_000_000L);
    assertSame(lookahead, m.next(), "exactly time_out seconds is not past it");
    clock.addAndGet(1);

    assertEquals(new Step.Finish(FinishReason.timeout), m.next());
    assertTrue(m.finished());
    assertEquals("A\n\n", m.trace().text());
    assertEquals(FinishReason.timeout, m.trace().finishReason());
    // a reply that comes in after the end changes nothing
    m.accept(new StepResult(List.of(), List.of(t("Yes")), false));
    assertEquals(2, m.committed().size());
    assertTrue(draft instanceof Step.Generate);
  }

  @Test
  void withoutTimeOutTheClockIsIgnored() {
    AtomicLong clock = new AtomicLong();
    SpeculativeThinking m = new SpeculativeThinking(config(b -> {}), 100, clock::get);

    clock.addAndGet(1_000_000_000_000_000L);

    assertTrue(m.next() instanceof Step.Generate);
  }

  @Test
  void theSessionsTimerEndsTheGenerationAndAHeldLookaheadCountsAsDiscarded() {
    SpeculativeThinking m = machine(config(b -> {}));
    m.next();
    m.accept(new StepResult(List.of(), List.of(t("A"), t("\n\n")), false));
    m.next();
    m.accept(new StepResult(List.of(), List.of(t("Yes"), t("b"), t("c")), false));
    assertEquals(SpanReason.takeover, ((Step.Generate) m.next()).reason());

    m.timeOut();

    assertEquals(new Step.Finish(FinishReason.timeout), m.next());
    assertEquals("A\n\n", m.trace().text());
    assertEquals(3, m.trace().counters().smallTokensDiscarded());
  }

  @Test
  void failEndsTheGenerationWithError() {
    SpeculativeThinking m = machine(config(b -> {}));
    assertNull(m.trace().finishReason());
    assertFalse(m.finished());

    m.fail("small worker unreachable");

    assertEquals(new Step.Finish(FinishReason.error), m.next());
    assertEquals(FinishReason.error, m.trace().finishReason());
    assertEquals("small worker unreachable", m.errorMessage());
  }

  @Test
  void aDraftThatReturnsNothingFailsInsteadOfLoopingForever() {
    SpeculativeThinking m = machine(config(b -> {}));
    m.next();

    m.accept(new StepResult(List.of(), List.of(), false));

    assertEquals(new Step.Finish(FinishReason.error), m.next());
  }
}
