package io.tandem.orchestrator.session;

import io.tandem.orchestrator.machine.GenerationPlan;
import io.tandem.orchestrator.machine.Step;
import io.tandem.orchestrator.machine.StepResult;
import io.tandem.protocol.Author;
import io.tandem.protocol.Counters;
import io.tandem.protocol.FinishReason;
import io.tandem.protocol.Role;
import io.tandem.protocol.Span;
import io.tandem.protocol.SpanReason;
import io.tandem.protocol.Token;
import io.tandem.protocol.Trace;
import io.tandem.protocol.text.StopStrings;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * One model writes the whole answer (mode small or large): the baselines of the paper's tables; or
 * one model writes the rest of an answer begun otherwise ({@link #continuing}: a session that lost
 * its large model goes on with the small one). With stop strings, each step stops at the token
 * that completes one (the worker matches them as triggers, {@link StopStrings}), and the answer
 * ends there with finish reason {@code stop}, the stop string kept.
 */
public final class SingleModelPlan implements GenerationPlan {
  private final Role role;
  private final int maxTokens;
  private final long deadlineNanos;
  private final LongSupplier nanoTime;
  private final List<Token> committed = new ArrayList<>();
  private final List<Span> spans = new ArrayList<>();
  /** The request's stop strings; empty for none. */
  private final List<String> stop;
  private final StopStrings stops;
  /** The answer's text so far, where stop strings are looked for. */
  private final StringBuilder text = new StringBuilder();
  private FinishReason finish;
  private String errorMessage;
  /** The counters of what was written before this plan took over (zero for a whole answer). */
  private final Counters before;
  private int written;

  /** @param timeOutSeconds <= 0 for none */
  public SingleModelPlan(Role role, int maxTokens, double timeOutSeconds, LongSupplier nanoTime) {
    this(role, maxTokens, timeOutSeconds, nanoTime, List.of());
  }

  /**
   * @param timeOutSeconds <= 0 for none
   * @param stop stop strings that end the answer, each non-empty; empty for none
   */
  public SingleModelPlan(Role role, int maxTokens, double timeOutSeconds, LongSupplier nanoTime, List<String> stop) {
    this.stop = List.copyOf(stop);
    this.stops = new StopStrings(this.stop);
    this.role = role;
    this.maxTokens = maxTokens;
    this.nanoTime = nanoTime;
    this.deadlineNanos = timeOutSeconds > 0 ? nanoTime.getAsLong() + (long) (timeOutSeconds * 1e9) : Long.MAX_VALUE;
    this.before = Counters.ZERO;
  }

  private SingleModelPlan(Role role, int maxTokens, List<Token> committed, List<Span> spans, Counters before) {
    this.stop = List.of();
    this.stops = new StopStrings(this.stop);
    this.role = role;
    this.maxTokens = maxTokens;
    this.nanoTime = System::nanoTime;
    this.deadlineNanos = Long.MAX_VALUE; // the session's own timer still runs
    this.committed.addAll(committed);
    this.spans.addAll(spans);
    this.before = before;
    if (committed.size() >= maxTokens) finish = FinishReason.length;
  }

  /**
   * {@code role} writes the rest of an answer whose first tokens are {@code committed} (with their
   * {@code spans} and {@code counters}, kept as they are); the answer's time-out stays the caller's.
   */
  public static SingleModelPlan continuing(Role role, int maxTokens, List<Token> committed, List<Span> spans,
      Counters counters) {
    return new SingleModelPlan(role, maxTokens, committed, spans, counters);
  }

  @Override
  public Step next() {
    if (finish != null) return new Step.Finish(finish);
    if (nanoTime.getAsLong() >= deadlineNanos) {
      finish = FinishReason.timeout;
      return new Step.Finish(finish);
    }
    int left = maxTokens - committed.size();
    return new Step.Generate(role, SpanReason.draft, committed.size(), null, left, left, !stop.isEmpty(), stop, true);
  }

  @Override
  public void accept(StepResult result) {
    if (finish != null) return;
    int start = committed.size();
    if (result.generated().isEmpty() && !result.eos()) {
      // Asked again, the step would be asked forever (tester54b: an engine answering finish_reason "length" with no
      // token, 11,274 times in 340 s, the client waiting without a byte).
      errorMessage = "the " + role + " model returned no tokens for a step at position " + start;
      finish = FinishReason.error;
      return;
    }
    committed.addAll(result.generated());
    written += result.generated().size();
    if (!result.generated().isEmpty())
      spans.add(new Span(role == Role.small ? Author.small : Author.large, SpanReason.draft, start, committed.size(),
          Token.concat(result.generated())));
    String written = Token.concat(result.generated());
    text.append(written);
    if (result.eos() || (!stop.isEmpty() && stops.find(text, written.length()).isPresent())) finish = FinishReason.stop;
    else if (committed.size() >= maxTokens) finish = FinishReason.length;
  }

  @Override
  public void timeOut() {
    if (finish == null) finish = FinishReason.timeout;
  }

  @Override
  public String errorMessage() {
    return errorMessage;
  }

  @Override
  public void fail(String message) {
    if (finish == null) finish = FinishReason.error;
  }

  @Override
  public boolean finished() {
    return finish != null;
  }

  @Override
  public List<Token> committed() {
    return List.copyOf(committed);
  }

  @Override
  public Trace trace() {
    int n = written;
    Counters b = before;
    Counters c = b.plusTokens(role == Role.small ? Author.small : Author.large, n);
    return new Trace(Token.concat(committed), finish, List.copyOf(spans), c);
  }
}
