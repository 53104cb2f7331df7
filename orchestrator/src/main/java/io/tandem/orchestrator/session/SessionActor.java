package io.tandem.orchestrator.session;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.javadsl.TimerScheduler;
import io.tandem.orchestrator.machine.SpeculativeThinking;
import io.tandem.orchestrator.machine.Step;
import io.tandem.orchestrator.machine.StepResult;
import io.tandem.protocol.Author;
import io.tandem.protocol.Chunk;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.FinishReason;
import io.tandem.protocol.Role;
import io.tandem.protocol.Span;
import io.tandem.protocol.SpanReason;
import io.tandem.protocol.Token;
import io.tandem.protocol.Trace;
import io.tandem.protocol.worker.WorkerProtocol;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One actor per request: drives a {@link GenerationPlan} (the speculative-thinking state machine,
 * or one model alone), sends each step to a worker of the step's role with the delta/position sync
 * protocol, streams decided output to its client, and ends with a trace. It dies with its request.
 *
 * <p>It keeps, per role, the worker it is bound to (rendezvous affinity, see {@link Affinity}; the
 * least loaded of its first choices when it binds) and what that worker holds of the session, so
 * every request carries only what the worker has not seen. When a worker stops (its node left or
 * crashed), the session moves to another of the same role and re-sends from its own transcript,
 * keeping what the lost worker had already streamed of the step. When no large worker is left
 * within {@code worker-wait}, it fails with a retryable error, or, with
 * {@code on-large-loss = degrade}, goes on with the small model alone from what it has committed
 * and finishes {@code degraded}. Every wait has a deadline.
 */
public final class SessionActor extends AbstractBehavior<SessionActor.Command> {

  /** What a session can be told. */
  public interface Command {}

  /** The client went away: cancel the work and free the caches. */
  public enum Cancel implements Command {
    INSTANCE
  }

  private record FromWorker(WorkerProtocol.Reply reply) implements Command {}

  private record Listed(WorkerDirectory.Workers workers) implements Command {}

  private record WorkerGone(ActorRef<WorkerProtocol.Command> worker) implements Command {}

  private enum TimeOut implements Command {
    INSTANCE
  }

  private record StepTimedOut(long requestId) implements Command {}

  private record WaitTimedOut(Role role) implements Command {}

  public static Behavior<Command> create(
      SessionRequest request,
      ActorRef<SessionEvent> client,
      ActorRef<WorkerDirectory.Command> directory,
      SessionSettings settings) {
    return Behaviors.setup(
        ctx -> Behaviors.withTimers(timers -> new SessionActor(ctx, timers, request, client, directory, settings).start()));
  }

  /** What one worker holds of this session, as far as the session knows. */
  private static final class Binding {
    ActorRef<WorkerProtocol.Command> worker;
    /** Tokens after the prompt the worker holds; -1: nothing, not even the prompt. */
    int known = -1;
    final List<Token> view = new ArrayList<>();
    String tokenizerKey;
    List<ActorRef<WorkerProtocol.Command>> ranked = List.of();
  }

  private final TimerScheduler<Command> timers;
  private final SessionRequest request;
  private final ActorRef<SessionEvent> client;
  private final ActorRef<WorkerDirectory.Command> directory;
  private final SessionSettings settings;
  private GenerationPlan plan;
  private final ActorRef<WorkerProtocol.Reply> replyAdapter;
  private final ActorRef<WorkerDirectory.Workers> listAdapter;

  private final Map<Role, Binding> bindings = new EnumMap<>(Role.class);
  private final Map<Role, String> keys = new EnumMap<>(Role.class);
  private final Set<ActorRef<WorkerProtocol.Command>> excluded = new HashSet<>();
  private final Set<ActorRef<WorkerProtocol.Command>> used = new HashSet<>();
  private Step.Generate current;
  private long requestSeq;
  private long inFlight = -1;
  private ActorRef<WorkerProtocol.Command> inFlightTo;
  private int resyncs;
  private int emitted;
  private int promptTokens;
  private boolean degraded;
  /** What the worker of the request in flight streamed of it so far. */
  private final List<Token> streamedInjected = new ArrayList<>();
  private final List<Token> streamedGenerated = new ArrayList<>();
  /** What a lost worker had streamed of the current step: the next worker continues after it. */
  private final List<Token> carryInjected = new ArrayList<>();
  private final List<Token> carryGenerated = new ArrayList<>();
  private final akka.actor.Address selfAddress;

  private SessionActor(
      ActorContext<Command> ctx,
      TimerScheduler<Command> timers,
      SessionRequest request,
      ActorRef<SessionEvent> client,
      ActorRef<WorkerDirectory.Command> directory,
      SessionSettings settings) {
    super(ctx);
    this.timers = timers;
    this.request = request;
    this.client = client;
    this.directory = directory;
    this.settings = settings;
    this.plan = switch (request.mode()) {
      case speculative -> GenerationPlan.of(
          new SpeculativeThinking(request.config(), request.maxTokens(), System::nanoTime));
      case small -> new SingleModelPlan(Role.small, request.maxTokens(), request.config().timeOut(), System::nanoTime);
      case large -> new SingleModelPlan(Role.large, request.maxTokens(), request.config().timeOut(), System::nanoTime);
    };
    this.replyAdapter = ctx.messageAdapter(WorkerProtocol.Reply.class, FromWorker::new);
    this.listAdapter = ctx.messageAdapter(WorkerDirectory.Workers.class, Listed::new);
    for (Role r : Role.values()) bindings.put(r, new Binding());
    this.selfAddress = ctx.getSystem().address();
  }

  private Behavior<Command> start() {
    double timeOut = request.config().timeOut();
    if (timeOut > 0) timers.startSingleTimer(TimeOut.INSTANCE, Duration.ofNanos((long) (timeOut * 1e9)));
    return advance();
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(FromWorker.class, m -> onReply(m.reply()))
        .onMessage(Listed.class, this::onListed)
        .onMessage(WorkerGone.class, this::onWorkerGone)
        .onMessageEquals(TimeOut.INSTANCE, this::onTimeOut)
        .onMessage(StepTimedOut.class, this::onStepTimedOut)
        .onMessage(WaitTimedOut.class, this::onWaitTimedOut)
        .onMessageEquals(Cancel.INSTANCE, this::onCancel)
        .build();
  }

  // ---- the plan

  private Behavior<Command> advance() {
    Step step = plan.next();
    if (step instanceof Step.Finish) return finish();
    current = (Step.Generate) step;
    resyncs = 0;
    streamedInjected.clear();
    streamedGenerated.clear();
    carryInjected.clear();
    carryGenerated.clear();
    return dispatch();
  }

  private Behavior<Command> dispatch() {
    Binding b = bindings.get(current.role());
    if (b.worker == null) {
      directory.tell(new WorkerDirectory.GetWorkers(current.role(), excluded, listAdapter));
      timers.startSingleTimer("wait", new WaitTimedOut(current.role()), settings.workerWait());
      return this;
    }
    send(b);
    return this;
  }

  private void send(Binding b) {
    List<Token> committed = plan.committed();
    int target = current.basePosition();
    int base;
    if (b.known < 0) {
      base = -1;
    } else {
      base = Math.min(commonPrefix(b.view, committed, b.known), target);
    }
    List<Chunk> append = new ArrayList<>(chunks(committed, Math.max(0, base), target));
    int carried = carryInjected.size() + carryGenerated.size();
    if (carried > 0) {
      List<Token> carry = new ArrayList<>(carryInjected);
      carry.addAll(carryGenerated);
      append.add(new Chunk(keys.get(current.role()), carry));
    }
    long id = ++requestSeq;
    inFlight = id;
    inFlightTo = b.worker;
    streamedInjected.clear();
    streamedGenerated.clear();
    used.add(b.worker);
    // After a lost worker's partial output the step goes on from there, within what is left of it.
    WorkerProtocol.Limits limits = new WorkerProtocol.Limits(carryInjected.isEmpty() ? current.inject() : null,
        Math.max(0, current.maxNewTokens() - carryGenerated.size()), Math.max(0, current.maxTotalTokens() - carried),
        current.stopAtTrigger(), current.triggers());
    b.worker.tell(new WorkerProtocol.Generate(request.sessionId(), request.tenant(), id, base,
        base < 0 ? request.prompt() : null, append, limits, request.sampling(),
        request.stream() && current.committed(), replyAdapter));
    timers.startSingleTimer("step", new StepTimedOut(id), settings.stepTimeout());
  }

  private static int commonPrefix(List<Token> a, List<Token> b, int limit) {
    int n = Math.min(Math.min(a.size(), b.size()), limit);
    int i = 0;
    while (i < n && a.get(i).equals(b.get(i))) i++;
    return i;
  }

  /** The committed tokens [from, to) as chunks, each in the vocabulary of the model that wrote it. */
  private List<Chunk> chunks(List<Token> committed, int from, int to) {
    if (from >= to) return List.of();
    List<Chunk> out = new ArrayList<>();
    List<Span> spans = plan.trace().spans();
    String runKey = null;
    int runStart = from;
    for (int pos = from; pos < to; pos++) {
      String key = keyAt(spans, pos);
      if (pos > from && !java.util.Objects.equals(key, runKey)) {
        out.add(new Chunk(runKey, committed.subList(runStart, pos)));
        runStart = pos;
      }
      runKey = key;
    }
    out.add(new Chunk(runKey, committed.subList(runStart, to)));
    return out;
  }

  private String keyAt(List<Span> spans, int pos) {
    for (Span s : spans) {
      if (pos >= s.start() && pos < s.end()) {
        Role writer = switch (s.author()) {
          case small -> Role.small;
          case large -> Role.large;
          // Injected words were tokenized by the worker that went on after them.
          case injected -> s.reason() == SpanReason.think ? Role.small : Role.large;
        };
        return keys.get(writer);
      }
    }
    return null;
  }

  // ---- worker replies

  private Behavior<Command> onReply(WorkerProtocol.Reply reply) {
    if (reply.requestId() != inFlight) return this; // an answer to a request given up on
    if (reply instanceof WorkerProtocol.Partial p) return onPartial(p);
    timers.cancel("step");
    inFlight = -1;
    if (reply instanceof WorkerProtocol.Done d) return onDone(d);
    if (reply instanceof WorkerProtocol.Resync r) return onResync(r);
    if (reply instanceof WorkerProtocol.Rejected r) return onRejected(r);
    if (reply instanceof WorkerProtocol.Failed f) {
      // A step already ran, so the prompt fitted: the session's own output filled a model's context,
      // and the generation ends there with what it has, as max_tokens would end it.
      if (f.code() == FailureCode.CONTEXT_LENGTH_EXCEEDED && promptTokens > 0) return finish(FinishReason.length);
      return fail(f.code(), current.role() + " worker failed: " + f.message());
    }
    return this;
  }

  private Behavior<Command> onPartial(WorkerProtocol.Partial p) {
    if (p.tokenizerKey() != null) keys.put(current.role(), p.tokenizerKey());
    streamedInjected.addAll(p.injected());
    streamedGenerated.addAll(p.generated());
    if (!p.injected().isEmpty()) emit(Author.injected, current.reason(), p.injected());
    if (!p.generated().isEmpty())
      emit(current.role() == Role.small ? Author.small : Author.large, current.reason(), p.generated());
    return this;
  }

  private Behavior<Command> onDone(WorkerProtocol.Done d) {
    Binding b = bindings.get(current.role());
    keys.put(current.role(), d.tokenizerKey());
    if (d.promptTokens() > 0 && (promptTokens == 0 || current.role() == Role.small)) promptTokens = d.promptTokens();
    int base = current.basePosition();
    List<Token> committed = plan.committed();
    List<Token> injected = new ArrayList<>(carryInjected);
    injected.addAll(d.injected());
    List<Token> generated = new ArrayList<>(carryGenerated);
    generated.addAll(d.generated());
    b.view.clear();
    b.view.addAll(committed.subList(0, base));
    b.view.addAll(injected);
    b.view.addAll(generated);
    b.known = b.view.size();
    if (settings.publishStepTimings())
      getContext().getSystem().eventStream().tell(new akka.actor.typed.eventstream.EventStream.Publish<>(
          new StepTimed(request.sessionId(), current.role(), name(b.worker), base, d.prefillTokens(),
              d.generated().size(), d.queueNanos(), d.computeNanos())));
    plan.accept(new StepResult(injected, generated, d.eos()));
    flush();
    return advance();
  }

  private Behavior<Command> onResync(WorkerProtocol.Resync r) {
    if (++resyncs > settings.maxResyncs())
      return fail(FailureCode.WORKER_LOST, current.role() + " worker keeps losing the session's cache (" + resyncs + " resyncs in one step)");
    Binding b = bindings.get(current.role());
    b.known = r.havePosition();
    if (b.known < 0) b.view.clear();
    else if (b.view.size() > b.known) b.view.subList(b.known, b.view.size()).clear();
    send(b);
    return this;
  }

  private Behavior<Command> onRejected(WorkerProtocol.Rejected r) {
    Binding b = bindings.get(current.role());
    // Spill over to the next worker in this session's order, if any has not refused yet.
    int i = b.ranked.indexOf(b.worker);
    for (int j = i + 1; j < b.ranked.size(); j++) {
      ActorRef<WorkerProtocol.Command> next = b.ranked.get(j);
      if (!excluded.contains(next)) {
        bind(b, next);
        send(b);
        return this;
      }
    }
    return fail(r.code(), "all " + current.role() + " workers are at capacity: " + r.reason());
  }

  private Behavior<Command> onListed(Listed l) {
    timers.cancel("wait");
    Role role = l.workers().role();
    Binding b = bindings.get(role);
    // Not bound to any worker of the role yet: no cache to come back to, so load may choose.
    boolean fresh = b.ranked.isEmpty();
    List<ActorRef<WorkerProtocol.Command>> ranked = new ArrayList<>(fresh
        ? Affinity.rankByLoad(request.sessionId(), l.workers().workers(), this::name, l.workers().load(), settings.loadChoices())
        : Affinity.rank(request.sessionId(), l.workers().workers(), this::name));
    ranked.removeAll(excluded);
    if (ranked.isEmpty()) return dispatch();
    b.ranked = ranked;
    bind(b, ranked.get(0));
    if (current != null && current.role() == role && inFlight < 0) send(b);
    return this;
  }

  private void bind(Binding b, ActorRef<WorkerProtocol.Command> worker) {
    if (b.worker != null && !b.worker.equals(worker)) {
      b.known = -1;
      b.view.clear();
    }
    b.worker = worker;
    getContext().watchWith(worker, new WorkerGone(worker));
  }

  private Behavior<Command> onWorkerGone(WorkerGone g) {
    excluded.add(g.worker());
    used.remove(g.worker());
    boolean wasInFlight = g.worker().equals(inFlightTo) && inFlight >= 0;
    for (Binding b : bindings.values()) {
      if (g.worker().equals(b.worker)) {
        b.worker = null;
        b.known = -1;
        b.view.clear();
      }
    }
    if (wasInFlight) {
      timers.cancel("step");
      inFlight = -1;
      // The client may have these already: keep them, and let the next worker go on after them.
      carryInjected.addAll(streamedInjected);
      carryGenerated.addAll(streamedGenerated);
      streamedInjected.clear();
      streamedGenerated.clear();
      getContext().getLog().info("session {}: {} worker {} stopped mid-step; moving to another",
          request.sessionId(), current.role(), g.worker().path());
      return dispatch();
    }
    return this;
  }

  // ---- timers and cancellation

  private Behavior<Command> onTimeOut() {
    cancelInFlight();
    plan.timeOut();
    return finish();
  }

  private Behavior<Command> onStepTimedOut(StepTimedOut t) {
    if (t.requestId() != inFlight) return this;
    cancelInFlight();
    return fail(FailureCode.TIMEOUT, current.role() + " worker did not answer within " + settings.stepTimeout().toSeconds() + " s");
  }

  private Behavior<Command> onWaitTimedOut(WaitTimedOut w) {
    if (current == null || current.role() != w.role() || bindings.get(w.role()).worker != null) return this;
    if (w.role() == Role.large && settings.degradeWithoutLarge()) return degrade();
    return fail(FailureCode.NO_WORKER, "no " + w.role() + " worker is available (waited " + settings.workerWait().toSeconds() + " s)");
  }

  /**
   * No large worker is left: go on with the small model alone from everything committed so far,
   * the large model's streamed part of the interrupted step included, and finish degraded.
   */
  private Behavior<Command> degrade() {
    List<Token> committed = new ArrayList<>(plan.committed());
    List<Span> spans = new ArrayList<>(plan.trace().spans());
    io.tandem.protocol.Counters counters = plan.trace().counters();
    int large = 0, injected = 0;
    if (!carryInjected.isEmpty()) {
      spans.add(span(Author.injected, current.reason(), committed.size(), carryInjected));
      committed.addAll(carryInjected);
      injected = carryInjected.size();
    }
    if (!carryGenerated.isEmpty()) {
      spans.add(span(Author.large, current.reason(), committed.size(), carryGenerated));
      committed.addAll(carryGenerated);
      large = carryGenerated.size();
    }
    counters = counters.plusTokens(Author.large, large).plusTokens(Author.injected, injected);
    getContext().getLog().warn("session {}: no large worker left; going on with the small model alone after {} tokens",
        request.sessionId(), committed.size());
    plan = SingleModelPlan.continuing(Role.small, request.maxTokens(), committed, spans, counters);
    degraded = true;
    return advance();
  }

  private static Span span(Author author, SpanReason reason, int start, List<Token> tokens) {
    StringBuilder sb = new StringBuilder();
    for (Token t : tokens) sb.append(t.text());
    return new Span(author, reason, start, start + tokens.size(), sb.toString());
  }

  /** A worker's full path, with its node's address even when it is on this node: the same name on every node. */
  private String name(ActorRef<WorkerProtocol.Command> worker) {
    return worker.path().toStringWithAddress(selfAddress);
  }

  private Behavior<Command> onCancel() {
    cancelInFlight();
    release();
    return Behaviors.stopped();
  }

  private void cancelInFlight() {
    if (inFlight >= 0 && inFlightTo != null) inFlightTo.tell(new WorkerProtocol.Cancel(request.sessionId(), inFlight));
    inFlight = -1;
    timers.cancel("step");
  }

  // ---- output

  private void emit(Author author, SpanReason reason, List<Token> tokens) {
    if (!request.stream()) return;
    emitted += tokens.size();
    client.tell(new SessionEvent.Delta(author, reason, List.copyOf(tokens)));
  }

  /** Streams the committed tokens the client has not seen yet, span by span. */
  private void flush() {
    if (!request.stream()) return;
    List<Token> committed = plan.committed();
    if (emitted >= committed.size()) return;
    for (Span s : plan.trace().spans()) {
      if (s.end() <= emitted) continue;
      int from = Math.max(s.start(), emitted);
      emit(s.author(), s.reason(), committed.subList(from, s.end()));
    }
  }

  private Behavior<Command> finish() {
    return finish(null);
  }

  /** Ends the generation; {@code reason}, when not null, replaces the plan's finish reason. */
  private Behavior<Command> finish(FinishReason reason) {
    timers.cancelAll();
    flush();
    Trace trace = plan.trace();
    if (reason != null) trace = new Trace(trace.text(), reason, trace.spans(), trace.counters());
    release();
    client.tell(new SessionEvent.Finished(trace,
        new SessionEvent.Usage(promptTokens, plan.committed().size()), degraded));
    return Behaviors.stopped();
  }

  private Behavior<Command> fail(FailureCode code, String message) {
    timers.cancelAll();
    cancelInFlight();
    plan.fail(message);
    release();
    getContext().getLog().warn("session {} failed: {}", request.sessionId(), message);
    client.tell(new SessionEvent.Failed(code, message, plan.trace()));
    return Behaviors.stopped();
  }

  private void release() {
    for (ActorRef<WorkerProtocol.Command> w : used) w.tell(new WorkerProtocol.Release(request.sessionId()));
    used.clear();
  }
}
