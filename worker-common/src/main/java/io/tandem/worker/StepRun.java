package io.tandem.worker;

import io.tandem.protocol.Token;
import io.tandem.protocol.text.StopStrings;
import io.tandem.protocol.worker.WorkerProtocol.Done;
import io.tandem.protocol.worker.WorkerProtocol.Generate;
import io.tandem.protocol.worker.WorkerProtocol.Partial;
import java.util.ArrayList;
import java.util.List;

/**
 * One admitted request while it generates, on any worker: takes each new token, streams it when
 * the request asked for {@link Partial}s, says when the request is complete (EOS, its token limit,
 * or the first token whose text completes a trigger, as {@link StopStrings} matches) and sends
 * the {@link Done}. Not thread-safe: the worker's actor owns it.
 */
final class StepRun implements Scheduler.Running {
  final PendingRequest pending;
  final Generate request;
  final StepSync.Ready ready;
  private final ServedModel model;
  private final WorkerMetrics metrics;
  final List<Token> generated = new ArrayList<>();
  private final StringBuilder text = new StringBuilder();
  /** The triggers this request stops at; null when it does not stop at one. */
  private final StopStrings triggers;
  /** Tokens the request brought that this worker had not processed (the sync's unseen part). */
  int prefillTokens;
  /**
   * Whether {@link #prefillTokens} says, when the step starts, what of the prompt was cached: on a
   * worker that runs the model, yes; in front of an engine, only the engine's answer says
   * ({@link #engineCachedTokens}), after the last token.
   */
  boolean cachedAtStart = true;
  /** In front of an engine: the prompt tokens the engine says it read from its cache; -1 while not known. */
  int engineCachedTokens = -1;
  long computeNanos;
  boolean eos;
  /**
   * A prefill ahead ({@link io.tandem.protocol.worker.WorkerProtocol.Limits#prefillAhead}) on a model
   * that holds the sequence's last token back: it runs until everything else is in the cache.
   */
  boolean prefillAhead;
  private boolean injectedStreamed;

  /** Where the worker keeps each session's last {@link Done}, to send it again; null: nowhere. */
  private final SessionWatch sessions;

  StepRun(PendingRequest pending, StepSync.Ready ready, ServedModel model, WorkerMetrics metrics, SessionWatch sessions) {
    this.sessions = sessions;
    this.pending = pending;
    this.request = pending.request();
    this.ready = ready;
    this.model = model;
    this.metrics = metrics;
    this.triggers = request.limits().stopAtTrigger() ? new StopStrings(request.limits().triggers()) : null;
  }

  @Override
  public String sessionId() {
    return request.sessionId();
  }

  @Override
  public long requestId() {
    return request.requestId();
  }

  @Override
  public SessionView view() {
    return ready.view();
  }

  /** Whether a prefill ahead is complete: every token of the view but the last is in the cache. */
  boolean prefilledAhead() {
    return ready.view().sequence.processedLength() >= ready.view().sequence.length() - 1;
  }

  /** The most tokens this request generates. */
  int limit() {
    return ready.limit();
  }

  /**
   * Takes the next generated token, already appended to the view's sequence; true when the
   * request is complete.
   */
  boolean accept(int id) {
    return accept(id, ready.detok().next(id));
  }

  /**
   * {@link #accept(int)} for a token whose text {@code t} is known already (an engine that
   * decodes, {@link EngineVocabulary}); the texts given must concatenate to the output's text.
   */
  boolean accept(int id, String t) {
    ready.view().recordOwn(1);
    Token token = new Token(id, t);
    generated.add(token);
    text.append(t);
    if (request.stream()) {
      request.replyTo().tell(injectedStreamed
          ? new Partial(request.requestId(), ready.injected().size() + generated.size() - 1, List.of(), List.of(token),
              model.tokenizer().key())
          : new Partial(request.requestId(), 0, ready.injected(), List.of(token), model.tokenizer().key(),
              ready.promptTokens(), cachedAtStart ? cachedTokens() : -1));
      injectedStreamed = true;
    }
    if (model.eosTokenIds().contains(id)) {
      eos = true;
      return true;
    }
    if (generated.size() >= ready.limit()) return true;
    return triggers != null && triggers.find(text, t.length()).isPresent();
  }

  /** Of the prompt of a step that started over, the tokens read from a cache; -1 when not known. */
  private int cachedTokens() {
    if (ready.promptTokens() <= 0) return -1;
    if (!cachedAtStart) return engineCachedTokens < 0 ? -1 : Math.min(engineCachedTokens, ready.promptTokens());
    return Math.max(0, ready.promptTokens() - prefillTokens);
  }

  /** Sends the {@link Done} (after the injected tokens, when streaming and none was generated). */
  void finish() {
    if (request.stream() && !injectedStreamed && !ready.injected().isEmpty()) {
      request.replyTo().tell(new Partial(request.requestId(), 0, ready.injected(), List.of(), model.tokenizer().key(),
          ready.promptTokens(), cachedTokens()));
    }
    long queued = System.nanoTime() - pending.arrivedNanos() - computeNanos;
    metrics.unseenTokens += prefillTokens;
    metrics.requestsDone++;
    Done done = new Done(request.requestId(), model.tokenizer().key(), ready.injected(),
        List.copyOf(generated), eos, ready.promptTokens(), prefillTokens, Math.max(0, queued), computeNanos, cachedTokens());
    request.replyTo().tell(done);
    if (sessions != null) sessions.answered(request.sessionId(), done);
  }
}
