package io.tandem.orchestrator.machine;

import io.tandem.protocol.Author;
import io.tandem.protocol.Counters;
import io.tandem.protocol.FinishReason;
import io.tandem.protocol.Role;
import io.tandem.protocol.Span;
import io.tandem.protocol.SpanReason;
import io.tandem.protocol.Token;
import io.tandem.protocol.Trace;
import io.tandem.protocol.config.SpeculativeConfig;
import io.tandem.protocol.text.StopStrings;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * The Speculative Thinking loop of one generation (arXiv 2504.12329; the paper's reference is
 * {@code speculative/speculative_vllm.py}), as a plain class: it says which model step to run next
 * ({@link #next()}), takes the step's result ({@link #accept(StepResult)}) and keeps the output, its
 * provenance and its counters. The session actor drives it; tests drive it synchronously. The rules
 * are in docs/ARCHITECTURE.md, "The algorithm".
 *
 * <p>The five differences from the reference loop (docs/ARCHITECTURE.md, "Differences from the
 * paper"): (1) sentiments see only the step's own generated text; (2) {@code max_tokens} counts
 * every output token, injected ones and eos included, and is never exceeded; (3) {@code time_out}
 * ends with {@link FinishReason#timeout} and the text so far; (4) an eos ends the generation at once
 * (no verify continuation after it); (5) behind {@code keep_neutral_lookahead} (off by default), a
 * neutral look-ahead is kept up to its first trigger.
 */
public final class SpeculativeThinking implements GenerationPlan {

  /** The step the machine will ask for next (the reference's loop, unrolled). */
  private enum Phase {
    BEGIN,
    DRAFT,
    LOOKAHEAD,
    TAKEOVER,
    VERIFY,
    RECAP
  }

  private final SpeculativeConfig config;
  private final int maxTokens;
  private final LongSupplier nanoTime;
  private final long startNanos;
  /** The config's {@code TRIGGER_TOKENS}, matched at text level. */
  private final StopStrings triggers;

  private final List<Token> committed = new ArrayList<>();
  private final List<Span> spans = new ArrayList<>();

  // The reference's per-generation state.
  private int neg;
  private int recapBudget;
  private int recapAfter;

  private Phase phase;
  private Step.Generate pending;
  /** The small model's look-ahead, held (not committed) until the decision. */
  private List<Token> lookahead;
  private boolean lookaheadEos;
  private int lookaheadSentiment;

  private FinishReason finishReason;
  private String errorMessage;

  private final Counters.Tally counts = new Counters.Tally();

  /**
   * @param maxTokens the most output tokens (injected and eos included), >= 1
   * @param nanoTime the clock for {@code time_out}, e.g. {@code System::nanoTime}
   */
  public SpeculativeThinking(SpeculativeConfig config, int maxTokens, LongSupplier nanoTime) {
    if (maxTokens < 1) throw new IllegalArgumentException("max_tokens must be >= 1, got " + maxTokens);
    this.config = config;
    this.maxTokens = maxTokens;
    this.nanoTime = nanoTime;
    this.startNanos = nanoTime.getAsLong();
    this.triggers = new StopStrings(config.triggerTokens());
    this.recapBudget = config.originalRecapTokenNum();
    this.recapAfter = config.recapAfterNegativeNum();
    this.phase = config.begin() ? Phase.BEGIN : Phase.DRAFT;
  }

  /** What to do now: the same step until {@link #accept} is called; a {@link Step.Finish} once finished. */
  public Step next() {
    if (finishReason == null && timedOut()) finish(FinishReason.timeout);
    if (finishReason == null && pending == null) pending = plan();
    return finishReason != null ? new Step.Finish(finishReason) : pending;
  }

  /**
   * The result of the last {@link Step.Generate}. Ignored once finished (a late reply after
   * {@link #timeOut()} or {@link #fail}). Tokens beyond the step's limits, or after its trigger
   * or eos, are cut: a worker that overruns cannot push the output past {@code max_tokens}.
   */
  public void accept(StepResult r) {
    if (finishReason != null) return;
    // A result that comes in after the deadline is still kept; next() then reports the timeout.
    Step.Generate g = pending != null ? pending : plannedIgnoringClock();
    if (g == null) return;
    pending = null;

    int room = g.maxTotalTokens();
    List<Token> injected = r.injected();
    if (injected.size() > room) injected = injected.subList(0, room);
    List<Token> generated = r.generated();
    int keep = Math.min(generated.size(), Math.min(g.maxNewTokens(), room - injected.size()));
    if (g.stopAtTrigger()) {
      int end = triggerEnd(generated);
      if (end >= 0) keep = Math.min(keep, end);
    }
    boolean eos = r.eos() && keep == generated.size();
    generated = new ArrayList<>(generated.subList(0, keep));
    if (eos && !generated.isEmpty()) {
      // The eos token ends the output; its text (e.g. "<|im_end|>") is not part of it.
      Token last = generated.get(generated.size() - 1);
      generated.set(generated.size() - 1, new Token(last.id(), ""));
    }

    switch (g.reason()) {
      case begin -> {
        commit(Author.large, SpanReason.begin, generated);
        stopOrDraft(eos);
      }
      case draft -> afterDraft(g, generated, eos, injected.size());
      case recap -> {
        counts.recaps++;
        commit(Author.injected, SpanReason.recap, injected);
        commit(Author.large, SpanReason.recap, generated);
        neg = 0;
        recapBudget = Math.min(recapBudget + config.addEachRecap(), config.maxRecapTokenNum());
        recapAfter = Math.min(recapAfter + config.addEachNeg(), config.maxNegativeNum());
        stopOrDraft(eos);
      }
      case lookahead -> {
        counts.lookaheads++;
        // help_think_word stays even when the look-ahead is discarded, as in the reference.
        commit(Author.injected, SpanReason.think, injected);
        lookahead = generated;
        lookaheadEos = eos;
        lookaheadSentiment = Sentiment.of(Token.concat(generated), config);
        if (config.notReasoning() || lookaheadSentiment != 0) {
          phase = Phase.TAKEOVER;
        } else {
          afterNeutralLookahead();
        }
      }
      case takeover -> {
        counts.takeovers++;
        decide(generated, eos);
      }
      case verify -> {
        counts.verifies++;
        commit(Author.large, SpanReason.verify, generated);
        stopOrDraft(eos);
      }
      default -> throw new IllegalStateException("no step is planned for reason " + g.reason());
    }
  }

  /**
   * Go on without the pending takeover or verification (the session's overload policy: the large
   * model's queue is too long), counted in {@code takeovers_skipped}: for a takeover the small
   * model's look-ahead is taken as if the large model had not been asked; after a skipped
   * verification the small model drafts on.
   */
  @Override
  public void skip() {
    if (finishReason != null) return;
    if (pending == null || !pending.optional())
      throw new IllegalStateException("only a pending takeover or verification can be skipped, not " + pending);
    SpanReason reason = pending.reason();
    pending = null;
    counts.takeoversSkipped++;
    if (reason == SpanReason.verify) {
      phase = Phase.DRAFT;
      return;
    }
    List<Token> taken = lookahead;
    commit(Author.small, SpanReason.lookahead, taken);
    lookahead = null;
    afterTaken(taken, lookaheadEos, lookaheadSentiment);
  }

  /** The session's timer fired: finish now with {@link FinishReason#timeout}. */
  public void timeOut() {
    finish(FinishReason.timeout);
  }

  /** Something failed (a worker, the transport): finish with {@link FinishReason#error}. */
  public void fail(String message) {
    if (finishReason == null) errorMessage = message;
    finish(FinishReason.error);
  }

  /** Whether the generation is over ({@link #next()} then returns a {@link Step.Finish}). */
  public boolean finished() {
    return finishReason != null;
  }

  /** Why it failed: by itself (a draft with no token and no end), or as {@link #fail} was told; null otherwise. */
  @Override
  public String errorMessage() {
    return errorMessage;
  }

  /** The output so far (tokens after the prompt), injected tokens and a final eos included. */
  public List<Token> committed() {
    return Collections.unmodifiableList(new ArrayList<>(committed));
  }

  /** The output's text, spans and counters; the finish reason is null until finished. */
  public Trace trace() {
    return new Trace(
        Token.concat(committed),
        finishReason,
        List.copyOf(spans),
        counts.counters());
  }

  private Step.Generate plannedIgnoringClock() {
    if (pending == null) pending = plan();
    return pending;
  }

  private Step.Generate plan() {
    int left = maxTokens - committed.size();
    if (left <= 0) {
      finish(FinishReason.length);
      return null;
    }
    return switch (phase) {
      case BEGIN -> generate(Role.large, SpanReason.begin, null, config.beginTokenNum(), left, false, true);
      case DRAFT -> generate(Role.small, SpanReason.draft, null, left, left, true, true);
      case LOOKAHEAD -> generate(
          Role.small, SpanReason.lookahead, thinkWord(), config.maxTargetTokens(), left, false, false);
      case TAKEOVER -> generate(
          Role.large, SpanReason.takeover, null, config.maxTargetTokens(), left, false, config.chooseLarge());
      // Always the original budget, not the recap budget that grows (as in the reference).
      case VERIFY -> generate(
          Role.large, SpanReason.verify, null, config.originalRecapTokenNum(), left, false, true);
      case RECAP -> generate(
          Role.large, SpanReason.recap, config.helpRecapWords(), recapBudget, left, false, true);
    };
  }

  private Step.Generate generate(
      Role role, SpanReason reason, String inject, int budget, int left, boolean stopAtTrigger, boolean kept) {
    return new Step.Generate(
        role,
        reason,
        committed.size(),
        inject,
        Math.min(budget, left),
        left,
        stopAtTrigger,
        config.triggerTokens(),
        kept);
  }

  private String thinkWord() {
    String w = config.helpThinkWord();
    return w == null || w.isEmpty() ? null : w;
  }

  private void afterDraft(Step.Generate g, List<Token> generated, boolean eos, int injected) {
    if (generated.isEmpty() && !eos && g.maxTotalTokens() > injected) {
      // Drafting again would ask the same question forever.
      fail("the small model returned no tokens for a draft at position " + g.basePosition());
      return;
    }
    commit(Author.small, SpanReason.draft, generated);
    if (eos) {
      finish(FinishReason.stop);
    } else if (triggerEnd(generated) >= 0) {
      atTrigger();
    } else {
      phase = Phase.DRAFT; // stopped short (budget, or a worker limit): draft on
    }
  }

  private void atTrigger() {
    counts.triggers++;
    phase = neg >= recapAfter ? Phase.RECAP : Phase.LOOKAHEAD;
  }

  /** s == 0 and the small model reasons: the reference discards the look-ahead and drafts again. */
  private void afterNeutralLookahead() {
    List<Token> all = lookahead;
    lookahead = null;
    if (!config.keepNeutralLookahead()) {
      counts.smallTokensDiscarded += all.size();
      phase = Phase.DRAFT;
      return;
    }
    // A neutral look-ahead is a valid sample of the small model: keep it up to its first trigger,
    // and carry on as after a draft that ended there.
    int end = triggerEnd(all);
    List<Token> kept = end < 0 ? all : all.subList(0, end);
    boolean keptEos = lookaheadEos && kept.size() == all.size();
    commit(Author.small, SpanReason.lookahead, kept);
    counts.smallTokensDiscarded += all.size() - kept.size();
    if (keptEos) {
      finish(FinishReason.stop);
    } else if (end >= 0) {
      atTrigger();
    } else {
      phase = Phase.DRAFT;
    }
  }

  private void decide(List<Token> large, boolean largeEos) {
    int s = lookaheadSentiment;
    int t = Sentiment.of(Token.concat(large), config);
    boolean takeLarge = config.chooseLarge() || (s < 0 && t >= 0) || (s > 0 && t < 0);
    List<Token> taken;
    boolean takenEos;
    int takenSentiment;
    if (takeLarge) {
      commit(Author.large, SpanReason.takeover, large);
      counts.smallTokensDiscarded += lookahead.size();
      taken = large;
      takenEos = largeEos;
      takenSentiment = t;
    } else {
      commit(Author.small, SpanReason.lookahead, lookahead);
      counts.largeTokensDiscarded += large.size();
      taken = lookahead;
      takenEos = lookaheadEos;
      takenSentiment = s;
    }
    lookahead = null;
    afterTaken(taken, takenEos, takenSentiment);
  }

  /** What follows the decision: count a negative step, then finish, verify or draft on. */
  private void afterTaken(List<Token> taken, boolean takenEos, int takenSentiment) {
    if (takenSentiment < 0) {
      neg++;
      counts.negatives++;
    }
    if (takenEos) {
      finish(FinishReason.stop);
    } else if (Sentiment.containsAny(Token.concat(taken), config.verifyKeywords())) {
      phase = Phase.VERIFY;
    } else {
      phase = Phase.DRAFT;
    }
  }

  private void stopOrDraft(boolean eos) {
    if (eos) {
      finish(FinishReason.stop);
    } else {
      phase = Phase.DRAFT;
    }
  }

  private void commit(Author author, SpanReason reason, List<Token> tokens) {
    if (tokens.isEmpty()) return;
    int start = committed.size();
    committed.addAll(tokens);
    spans.add(new Span(author, reason, start, committed.size(), Token.concat(tokens)));
    counts.tokens(author, tokens.size());
  }

  private void finish(FinishReason reason) {
    if (finishReason != null) return;
    finishReason = reason;
    pending = null;
    if (lookahead != null) {
      counts.smallTokensDiscarded += lookahead.size();
      lookahead = null;
    }
  }

  private boolean timedOut() {
    if (!config.hasTimeOut()) return false;
    long elapsed = nanoTime.getAsLong() - startNanos;
    return elapsed > (long) (config.timeOut() * 1e9);
  }

  /**
   * The number of tokens up to and including the first one whose accumulated text contains a
   * trigger (text level: a trigger split across two tokens counts), or -1 when none does.
   */
  private int triggerEnd(List<Token> tokens) {
    return triggers.tokensThroughFirstMatch(tokens);
  }
}
