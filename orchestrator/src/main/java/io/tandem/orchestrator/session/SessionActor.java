package io.tandem.orchestrator.session;

import akka.actor.Address;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.eventstream.EventStream;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.javadsl.TimerScheduler;
import io.tandem.orchestrator.machine.GenerationPlan;
import io.tandem.orchestrator.machine.SpeculativeThinking;
import io.tandem.orchestrator.machine.Step;
import io.tandem.orchestrator.machine.StepResult;
import io.tandem.protocol.Author;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.FinishReason;
import io.tandem.protocol.Role;
import io.tandem.protocol.Token;
import io.tandem.protocol.Trace;
import io.tandem.protocol.text.Seconds;
import io.tandem.protocol.worker.WorkerProtocol;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * One actor per request: drives a {@link GenerationPlan} (the speculative-thinking state machine,
 * or one model alone), sends each step to a worker of the step's role, streams decided output to
 * its client, and ends with a trace. It dies with its request. What it delegates: the sync
 * protocol's encoding to {@link SyncEncoder}, the client's stream to {@link ClientStream}, what is
 * carried across a lost worker to {@link Failover}; the algorithm stays the plan's.
 *
 * <p>Binding: per role, the session keeps one worker (rendezvous affinity, see {@link Affinity};
 * the least loaded of its first choices when it binds); a worker that refuses (queue full) passes
 * the step on to the next in the session's order.
 *
 * <p>A lost worker, and when the session notices. A worker is lost when death watch says it
 * stopped (its actor stopped, or its node left or was downed and removed), or when its node has
 * been unreachable for {@code tandem.session.worker-lost-after} while it holds the session's step.
 * Unreachability is Akka's failure detector's verdict ({@code akka.cluster.failure-detector}; with
 * Tandem's defaults, heartbeats every 0.5 s and 2 s of acceptable pause, a crashed node is found
 * unreachable about 2.5 to 4 s after it stopped), passed on by the node's {@link WorkerDirectory}.
 * The extra {@code worker-lost-after} (default 1 s) lets a node that only stalled (a long GC
 * pause) come back before its work is thrown away. So a session acts some 3.5 to 5 s after a crash,
 * well before the split brain resolver downs the node ({@code stable-after}, 7 s after
 * unreachability) and death watch would tell. Acting means: re-send the step to another worker of
 * the role, from the session's own transcript (the sync protocol makes that a resync), keeping what
 * the lost worker had already streamed of the step. That needs another worker: when the directory
 * lists no other reachable worker of the role, giving the worker up would only end the session
 * early, so the session keeps waiting for it (asking again every {@code worker-lost-after}, in case
 * another comes): its node either comes back and the step goes on, or is downed and removed by the
 * split brain resolver and death watch says the worker stopped. A worker that stopped is lost at
 * once; with no other worker of the role listed then, the session fails with the retryable {@link
 * FailureCode#NO_WORKER} (as a request that finds none does), or, for the large role with {@code on-large-loss = degrade}, goes on
 * with the small model alone from what is committed and finishes {@code degraded} (for the small role with {@code
 * on-small-loss = large}, a speculative session goes on with the large model alone). A lost worker is
 * never asked again, and any late reply from it answers a request the session no longer waits for,
 * so it is dropped. One lost to unreachability is told to {@code Release} the session first, which
 * frees its cache should its node come back (one that stopped holds nothing; a worker also releases
 * the sessions it sees terminate).
 *
 * <p>Overload: with {@code tandem.session.skip-takeover-above} set, before an optional large step
 * (a takeover, a verification: {@link Step.Generate#optional()}) the session asks the directory how
 * long the large worker's queue would keep it; above the setting (or when every large worker
 * refuses it for a full queue) it skips the step ({@link GenerationPlan#skip()}) and the small
 * model goes on.
 *
 * <p>Prefill ahead ({@code tandem.session.prefill-ahead}, on by default): a speculative session
 * binds its large worker when it starts (the least loaded of its first choices, as a takeover would)
 * and, whenever it sends the small model a step, sends that worker the text decided since the
 * worker's last step in a {@link WorkerProtocol.Limits#PREFILL_AHEAD} request, which computes its KV
 * cache and generates nothing. The large worker does that on its own time, beside the small model's
 * drafting, and a takeover then starts generating at once instead of first prefilling everything
 * since the large model's last step. The text is decided, so the work is the takeover's own, done
 * earlier; only text after a session's last takeover is prefilled for nothing. A takeover sent while
 * the prefill is still in flight goes out at once, as if it were done: the worker drops the prefill
 * for the newer request and keeps what it had synced and computed, and where it had not started it
 * answers {@link WorkerProtocol.Resync} and the session re-sends from there. Failures of a prefill
 * ahead are the takeover's to meet; the prefill itself is only dropped, and a worker that refuses
 * prefills ahead for good (a non-retryable {@link WorkerProtocol.Rejected}: one in front of a remote
 * engine, whose engine prefills at the takeover from its own prefix cache) is not asked again.
 *
 * <p>A request under way (a step of it done) whose step every worker of the role refuses for a full
 * queue ({@link FailureCode#QUEUE_FULL}, or its tenant's share of it: {@link
 * FailureCode#TENANT_QUEUE_FULL}) waits for room, sending the step again after a short pause
 * ({@link #roomRetryAfter}) for up to {@code worker-wait}, instead of ending with what it has written:
 * a queue limit is admission control, which the request passed at its first step (without the
 * overload policy, a speculative request met the large worker's queue only mid-answer, and a stream
 * ended in a 429 or 503 after its text). Its first step is refused at once, before anything is
 * written, for the client to retry. A step refused by an engine shutting down ({@link
 * FailureCode#UNAVAILABLE}: it finishes its steps in flight, its worker withdrawn from the role
 * and refusing new ones) is met the same way, in its own words.
 *
 * <p>Every wait has a deadline: {@code worker-wait} for a worker to be listed at all (and for room in a full queue),
 * {@code step-timeout} for a step, and the request's own {@code time_out}. A wait for a worker to
 * be listed ends early when one is (a node that was unreachable, only stalled, is reachable again)
 * or when the directory says none is coming ({@link WorkerDirectory.Workers#gone}: the node was
 * downed and removed, and no other of the role is on its way). A speculative request
 * admitted with no large worker offered and no large node on its way, reachable or not
 * ({@link SessionRequest#largeAbsent()}) does not wait: it
 * follows {@code on-large-loss} at once, failing with {@link FailureCode#NO_WORKER} (or, where no
 * large worker can ever come, {@link FailureCode#ROLE_NOT_SERVED}: see {@link RoleSupply}) or going
 * on with the small model alone, degraded.
 */
public final class SessionActor extends AbstractBehavior<SessionActor.Command> {

  /** What a session can be told. */
  public interface Command {}

  /** The client went away: cancel the work and free the caches. */
  public enum Cancel implements Command {
    INSTANCE
  }

  /**
   * The client's stop string ended the output: cancel the work, free the caches, and finish with
   * reason {@code stop} and what is committed, so that the client gets the counters of what ran
   * (a {@link SessionEvent.Finished}). Sent to a session that has ended already (one of a single
   * model ends on the stop string itself), it is dropped without a dead-letter log line.
   */
  public enum Stop implements Command, akka.actor.DeadLetterSuppression {
    INSTANCE
  }

  /**
   * This node was downed, or most likely was (back from a pause past the cluster's downing time,
   * {@link PauseWatch}) (told by {@link Sessions}): its remote workers are out of reach, whether
   * or not death watch says so before the node stops; the session fails naming that. Told twice
   * (the MemberDowned event and CoordinatedShutdown), the second finds it stopped: no dead letter.
   */
  enum NodeDowned implements Command, akka.actor.DeadLetterSuppression {
    INSTANCE
  }

  private record FromWorker(WorkerProtocol.Reply reply) implements Command {}

  private record Listed(WorkerDirectory.Workers workers) implements Command {}

  private record QueueWaitKnown(Duration expected) implements Command {}

  private record WorkerGone(ActorRef<WorkerProtocol.Command> worker) implements Command {}

  private record Unreachable(Set<Address> nodes) implements Command {}

  private record WorkerLost(long requestId) implements Command {}

  /** The workers of the step's role other than those of request {@code requestId} and the lost (null: no answer). */
  private record OthersListed(long requestId, WorkerDirectory.Workers others) implements Command {}

  private enum TimeOut implements Command {
    INSTANCE
  }

  private record StepTimedOut(long requestId) implements Command {}

  /** Request {@code requestId} has been silent for {@code step-check-interval}: time to ask its worker about it. */
  private record CheckStep(long requestId) implements Command {}

  private record WaitTimedOut(Role role) implements Command {}

  /** Time to send again the step {@code stepSeq} that every worker refused for a full queue. */
  private record RoomRetry(long stepSeq) implements Command {}

  private static final String STEP_TIMER = "step", WAIT_TIMER = "wait", LOST_TIMER = "lost", ROOM_TIMER = "room",
      CHECK_TIMER = "check";

  /**
   * The pause before a step refused for full queues is sent again, after {@code refusals} refusals
   * of it: 50 ms, doubling up to 800 ms. Not first come, first served: the waiters are not the
   * worker's queue, and one that has waited long asks least often (tester45d saw the oldest run out
   * their worker-wait); pauses that shorten as a request waits (200 ms less a tenth of its wait,
   * down to 20 ms) were tried and measured worse in one sitting (tester45f, 9 runs against 8, 20-30
   * requests each: 11 of 220 failed against 7 of 200, and the worker refused 6,689 resends against
   * 540). A strict order needs the worker to queue steps of requests under way past its limit.
   */
  static Duration roomRetryAfter(int refusals) {
    return Duration.ofMillis(Math.min(800, 50L << Math.min(4, refusals)));
  }

  /** The least time between two looks for another worker while one on an unreachable node holds the step. */
  private static final Duration MIN_RECHECK = Duration.ofMillis(100);

  public static Behavior<Command> create(
      SessionRequest request,
      ActorRef<SessionEvent> client,
      ActorRef<WorkerDirectory.Command> directory,
      SessionSettings settings) {
    return Behaviors.setup(
        ctx -> Behaviors.withTimers(timers -> new SessionActor(ctx, timers, request, client, directory, settings).start()));
  }

  private final TimerScheduler<Command> timers;
  private final SessionRequest request;
  private final ActorRef<SessionEvent> client;
  private final ActorRef<WorkerDirectory.Command> directory;
  private final SessionSettings settings;
  private final ActorRef<WorkerProtocol.Reply> replyAdapter;
  private final ActorRef<WorkerDirectory.Workers> listAdapter;
  private final ActorRef<WorkerDirectory.QueueWait> queueAdapter;
  private final Address selfAddress;
  private final NoWorkerLog noWorkerLog;

  private final SyncEncoder sync = new SyncEncoder();
  private final ClientStream stream;
  private final Failover failover = new Failover();
  private GenerationPlan plan;
  private Step.Generate current;
  private boolean queueChecked;
  private long requestSeq;
  private long inFlight = -1;
  private ActorRef<WorkerProtocol.Command> inFlightTo;
  private int resyncs;
  /** How often the current step was sent again to its worker, its answer lost on the way ({@link #onStepNotHeld}). */
  private int resends;
  private int promptTokens;
  /** Of {@link #promptTokens}, those the worker that counted them found in its prefix cache; -1: not known. */
  private int cachedPromptTokens = -1;
  /** The role and request whose counts {@link #promptTokens} holds ({@link #promptRead}); null before any. */
  private Role promptRole;
  private long promptRequest = -1;
  private boolean degraded;
  /** How long this session's steps waited in workers' queues, summed ({@link SessionEvent.Finished#queueNanos}). */
  private long queueNanos;
  private Set<Address> unreachable = Set.of();
  /** Whether the session has said that it waits for an unreachable node, having no other worker. */
  private boolean saidWaiting;
  /** The prefill ahead in flight to the large worker (-1: none), and the decided tokens it brings that worker to. */
  private long aheadId = -1;
  private List<Token> aheadPrefix;
  /** Whether the session has asked the directory for a large worker to prefill ahead on. */
  private boolean askedAhead;
  /** Whether the large worker refused prefills ahead for good (one in front of a remote engine). */
  private boolean aheadRefused;
  /** Whether a step of the request has been done: it was admitted, and a full queue is waited out. */
  private boolean underWay;
  /** The steps begun ({@link #advance}), naming the one a {@link RoomRetry} is for. */
  private long stepSeq;
  /** Whether the step in flight has sent output ({@link WorkerProtocol.Partial}): its timer then bounds its silence. */
  private boolean progressed;
  /** Since when the current step has waited for room in a full queue ({@link System#nanoTime}); -1: it has not. */
  private long roomWaitSince = -1;
  /** How often the current step has been refused for full queues. */
  private int roomRefusals;

  private SessionActor(
      ActorContext<Command> ctx,
      TimerScheduler<Command> timers,
      SessionRequest request,
      ActorRef<SessionEvent> client,
      ActorRef<WorkerDirectory.Command> directory,
      SessionSettings settings) {
    super(ctx);
    // The log's name is this class, so that logging config can address sessions (not akka.actor.ActorCell).
    ctx.setLoggerName(SessionActor.class);
    this.timers = timers;
    this.request = request;
    this.client = client;
    this.directory = directory;
    this.settings = settings;
    this.plan = switch (request.mode()) {
      case speculative -> new SpeculativeThinking(request.config(), request.maxTokens(), System::nanoTime);
      case small -> new SingleModelPlan(Role.small, request.maxTokens(), request.config().timeOut(), System::nanoTime,
          request.stop());
      case large -> new SingleModelPlan(Role.large, request.maxTokens(), request.config().timeOut(), System::nanoTime,
          request.stop());
    };
    this.stream = new ClientStream(client, request.stream(), () -> cachedPromptTokens);
    this.replyAdapter = ctx.messageAdapter(WorkerProtocol.Reply.class, FromWorker::new);
    this.listAdapter = ctx.messageAdapter(WorkerDirectory.Workers.class, Listed::new);
    this.queueAdapter = ctx.messageAdapter(WorkerDirectory.QueueWait.class, q -> new QueueWaitKnown(q.expected()));
    this.selfAddress = ctx.getSystem().address();
    this.noWorkerLog = NoWorkerLog.get(ctx.getSystem());
  }

  private Behavior<Command> start() {
    double timeOut = request.config().timeOut();
    if (timeOut > 0) timers.startSingleTimer(TimeOut.INSTANCE, Duration.ofNanos((long) (timeOut * 1e9)));
    directory.tell(new WorkerDirectory.WatchNodes(
        getContext().messageAdapter(WorkerDirectory.UnreachableNodes.class, u -> new Unreachable(u.nodes()))));
    if (request.mode() == Mode.speculative && request.largeAbsent()) {
      boolean canJoin = RoleSupply.get(getContext().getSystem()).canCome(Role.large);
      return noWorker(Role.large, canJoin ? FailureCode.NO_WORKER : FailureCode.ROLE_NOT_SERVED,
          noWorkerMessage(Role.large, canJoin, Role.small));
    }
    return advance();
  }

  /**
   * Why no worker of {@code role} serves a request, and what to do: when one {@code canJoin} ({@link
   * RoleSupply#canCome}), retry once one has; when none can, start the node with the role. With
   * {@code alone} (null for none), the role whose model alone could serve the request instead, and
   * how to ask for it. The HTTP layer says the same when no worker of a role can count a prompt.
   */
  public static String noWorkerMessage(Role role, boolean canJoin, Role alone) {
    return noWorkerMessage(role, canJoin, alone, null);
  }

  /** {@link #noWorkerMessage(Role, boolean, Role)} for a request that {@code waited} for one first (null: it did not). */
  public static String noWorkerMessage(Role role, boolean canJoin, Role alone, Duration waited) {
    String why = (waited == null ? "" : "waited " + Seconds.of(waited) + " s; ")
        + (canJoin ? "none is offered to sessions: retry once one has joined"
        : "this node runs no " + role + " worker and is not in a cluster, so none can join it: start it with the "
            + role + " role too, as --roles orchestrator,small,large does");
    String instead = alone == null ? ""
        : ", or send \"tandem\": {\"mode\": \"" + alone + "\"} to use the " + alone + " model alone";
    return "no " + role + " worker is available (" + why + instead + ")";
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(FromWorker.class, m -> onReply(m.reply()))
        .onMessage(Listed.class, this::onListed)
        .onMessage(QueueWaitKnown.class, this::onQueueWait)
        .onMessage(WorkerGone.class, g -> lose(g.worker(), selfLeaving() == null ? "stopped" : "is out of this node's reach"))
        .onMessage(Unreachable.class, this::onUnreachable)
        .onMessage(WorkerLost.class, this::onWorkerLost)
        .onMessage(OthersListed.class, this::onOthersListed)
        .onMessageEquals(TimeOut.INSTANCE, this::onTimeOut)
        .onMessage(StepTimedOut.class, this::onStepTimedOut)
        .onMessage(CheckStep.class, this::onCheckStep)
        .onMessage(WaitTimedOut.class, this::onWaitTimedOut)
        .onMessage(RoomRetry.class, this::onRoomRetry)
        .onMessageEquals(NodeDowned.INSTANCE, this::onNodeDowned)
        .onMessageEquals(Cancel.INSTANCE, this::onCancel)
        .onMessageEquals(Stop.INSTANCE, this::onStop)
        .build();
  }

  // ---- the plan

  private Behavior<Command> advance() {
    Step step = plan.next();
    // The plan failed by itself (a step that made no progress): the request fails, as on a worker's failure; finished, it
    // was an answer of 200 and finish_reason "stop", empty where nothing was written (tester54b).
    if (step instanceof Step.Finish && plan.errorMessage() != null && plan.trace().finishReason() == FinishReason.error)
      return fail(FailureCode.MODEL_ERROR, plan.errorMessage());
    if (step instanceof Step.Finish) return finish();
    current = (Step.Generate) step;
    resyncs = 0;
    resends = 0;
    queueChecked = false;
    stepSeq++;
    roomWaitSince = -1;
    roomRefusals = 0;
    failover.stepStarted();
    if (current.role() == Role.small) prefillAhead();
    return dispatch();
  }

  /**
   * Sends the large worker what it has not seen of the decided text, to prefill while the small
   * model writes (see the class comment); binds a large worker first, asking the directory once.
   */
  private void prefillAhead() {
    if (!settings.prefillAhead() || request.mode() != Mode.speculative || degraded || aheadRefused || aheadId >= 0) return;
    SyncEncoder.Binding b = sync.binding(Role.large);
    if (b.worker == null) {
      if (!askedAhead && !failover.hasLost(Role.large)) {
        askedAhead = true;
        directory.tell(new WorkerDirectory.GetWorkers(Role.large, failover.lost(), listAdapter, true));
      }
      return;
    }
    List<Token> committed = plan.committed();
    SyncEncoder.Delta delta = sync.delta(Role.large, committed, plan.trace().spans(), committed.size(), List.of());
    if (delta.base() == committed.size() && delta.append().isEmpty()) return; // it holds all of it
    aheadId = ++requestSeq;
    aheadPrefix = List.copyOf(committed);
    failover.used(b.worker);
    b.worker.tell(new WorkerProtocol.Generate(request.sessionId(), request.tenant(), aheadId, delta.base(),
        delta.base() < 0 ? request.prompt() : null, delta.append(), WorkerProtocol.Limits.PREFILL_AHEAD,
        request.sampling(), false, replyAdapter, request.cacheSalt()));
  }

  /** The prefill ahead is answered: the worker holds the text it brought, or says what it holds. */
  private Behavior<Command> onAheadReply(WorkerProtocol.Reply reply) {
    if (reply instanceof WorkerProtocol.Partial) return this;
    if (reply instanceof WorkerProtocol.Done d) {
      sync.tokenizerKey(Role.large, d.tokenizerKey());
      sync.done(Role.large, aheadPrefix, List.of(), List.of());
    } else if (reply instanceof WorkerProtocol.Resync r) {
      sync.resync(Role.large, r.havePosition());
    } else if (reply instanceof WorkerProtocol.Failed f && f.code() == FailureCode.INVALID_REQUEST) {
      // The large model cannot take this request at all (no chat template): say so now, not at the first takeover.
      return fail(f.code(), "the large model cannot take this request: " + f.message());
    } else if (reply instanceof WorkerProtocol.Rejected r && !r.retryable()) {
      aheadRefused = true; // a worker that does not prefill ahead (one in front of an engine): stop asking
      getContext().getLog().debug("session {}: no prefills ahead: {}", request.sessionId(), r.reason());
    } else {
      getContext().getLog().debug("session {}: prefill ahead not taken: {}", request.sessionId(), reply);
    }
    aheadId = -1;
    aheadPrefix = null;
    return this;
  }

  /** A large step goes out while its prefill ahead is in flight: it counts as done (see the class comment). */
  private void overtakeAhead() {
    if (aheadId < 0) return;
    sync.done(Role.large, aheadPrefix, List.of(), List.of());
    aheadId = -1;
    aheadPrefix = null;
  }

  /** Sends the current step to its role's worker, once there is one and the overload policy lets it. */
  private Behavior<Command> dispatch() {
    Role role = current.role();
    SyncEncoder.Binding b = sync.binding(role);
    if (b.worker == null) {
      // After losing a worker of the role, what is listed now is all there is: no waiting.
      boolean now = failover.hasLost(role);
      directory.tell(new WorkerDirectory.GetWorkers(role, failover.lost(), listAdapter, now));
      if (!now) timers.startSingleTimer(WAIT_TIMER, new WaitTimedOut(role), settings.workerWait());
      return this;
    }
    if (skipping() && !queueChecked) {
      queueChecked = true;
      directory.tell(new WorkerDirectory.GetQueueWait(b.worker, queueAdapter));
      return this;
    }
    send(b);
    return this;
  }

  /** Whether the overload policy applies to the current step. */
  private boolean skipping() {
    return current.optional() && settings.skipTakeoverAbove() != null;
  }

  private void send(SyncEncoder.Binding b) {
    if (current.role() == Role.large) overtakeAhead();
    SyncEncoder.Delta delta = sync.delta(current.role(), plan.committed(), plan.trace().spans(), current.basePosition(),
        failover.carried());
    long id = ++requestSeq;
    inFlight = id;
    inFlightTo = b.worker;
    progressed = false;
    failover.sent(b.worker);
    b.worker.tell(new WorkerProtocol.Generate(request.sessionId(), request.tenant(), id, delta.base(),
        delta.base() < 0 ? request.prompt() : null, delta.append(), failover.limits(current), request.sampling(),
        current.alwaysKept(), replyAdapter, request.cacheSalt()));
    timers.startSingleTimer(STEP_TIMER, new StepTimedOut(id), settings.stepTimeout());
    restartCheck();
    checkReachability();
  }

  /** Stops waiting for the request in flight (answered, or given up on). */
  private void stopWaiting() {
    timers.cancel(STEP_TIMER);
    timers.cancel(LOST_TIMER);
    timers.cancel(CHECK_TIMER);
    inFlight = -1;
  }

  // ---- answers lost between nodes

  /**
   * Starts again the clock on the silence of the request in flight, when its worker is on another
   * node: a message between nodes can be lost (Akka's Artery drops what it cannot queue for a node
   * whose link is backed up, as it is while that node, or this one, is paused), and a step whose
   * {@code Done} was lost would wait for its {@code step-timeout}. A worker on this node is sent to
   * through its mailbox, which loses nothing.
   */
  private void restartCheck() {
    if (inFlight >= 0 && inFlightTo.path().address().hasGlobalScope())
      timers.startSingleTimer(CHECK_TIMER, new CheckStep(inFlight), settings.stepCheckInterval());
  }

  /** The request in flight has been silent for step-check-interval: asks its worker whether it still holds it. */
  private Behavior<Command> onCheckStep(CheckStep c) {
    if (c.requestId() != inFlight) return this;
    askStepStatus();
    return this;
  }

  private void askStepStatus() {
    inFlightTo.tell(new WorkerProtocol.GetStepStatus(request.sessionId(), inFlight, replyAdapter));
    restartCheck();
  }

  /**
   * The worker neither holds the request in flight nor answered it (it sends a finished request's
   * {@code Done} again: see {@link WorkerProtocol.GetStepStatus}): the request was lost between the
   * nodes, or its answer was one the worker does not keep (a refusal, a failure). The step goes to
   * the worker again, after what it streamed (as to another worker after a lost one, see {@link
   * Failover}); a worker holding more of the session than the step's base truncates.
   */
  private Behavior<Command> onStepNotHeld() {
    if (++resends > settings.maxResyncs())
      return fail(FailureCode.WORKER_LOST, current.role() + " worker's answers to this session were lost on the way "
          + resends + " times in one step");
    getContext().getLog().warn("session {}: {} worker {} does not hold request {}, and no answer to it came: lost "
        + "between the nodes (a node paused, or the link between them backed up); sending the step again",
        request.sessionId(), current.role(), inFlightTo.path(), inFlight);
    stopWaiting();
    failover.resend();
    SyncEncoder.Binding b = sync.binding(current.role());
    if (b.worker == null) return dispatch();
    send(b);
    return this;
  }

  // ---- worker replies

  private Behavior<Command> onReply(WorkerProtocol.Reply reply) {
    if (reply.requestId() == aheadId) return onAheadReply(reply);
    if (reply.requestId() != inFlight) return this; // an answer to a request given up on
    if (reply instanceof WorkerProtocol.Partial p) return onPartial(p);
    // Held: it goes on. Answered: its Done, sent again, is on its way (lost again, the next check asks again).
    if (reply instanceof WorkerProtocol.StepStatus s) return s.held() || s.answered() ? this : onStepNotHeld();
    stopWaiting();
    if (reply instanceof WorkerProtocol.Done d) return onDone(d);
    if (reply instanceof WorkerProtocol.Resync r) return onResync(r);
    if (reply instanceof WorkerProtocol.Rejected r) return onRejected(r);
    if (reply instanceof WorkerProtocol.Failed f) {
      // A step already ran, so the prompt fitted: the session's own output filled a model's context,
      // and the generation ends there with what it has, as max_tokens would end it.
      if (f.code() == FailureCode.CONTEXT_LENGTH_EXCEEDED && promptTokens > 0) return finish(FinishReason.length);
      if (f.code() == FailureCode.INVALID_REQUEST)
        return fail(f.code(), "the " + current.role() + " model cannot take this request: " + f.message());
      return fail(f.code(), current.role() + " worker failed: " + f.message());
    }
    return this;
  }

  /**
   * The prompt's length as the worker of {@code role} read it in request {@code requestId}, a step
   * that started over ({@code promptTokens} > 0), and of it what the worker read from its prefix
   * cache (or its engine from its own; -1: not known). The first such step's counts, the small
   * worker's in speculative mode (it reads the prompt first); that step's {@code Done} updates what
   * its first {@code Partial} said (an engine's count of its cache comes at the end).
   */
  private void promptRead(Role role, long requestId, int promptTokens, int cachedTokens) {
    if (promptTokens <= 0) return;
    boolean first = promptRole == null || (role == Role.small && promptRole != Role.small);
    if (!first && requestId != promptRequest) return;
    this.promptTokens = promptTokens;
    cachedPromptTokens = cachedTokens;
    promptRole = role;
    promptRequest = requestId;
  }

  private Behavior<Command> onPartial(WorkerProtocol.Partial p) {
    // Output is coming: step-timeout bounds a step's silence, not its length (tester45d: a chat
    // without max_tokens, run to what fits, was cut at 5 min while its tokens flowed).
    if (!p.generated().isEmpty() || !p.injected().isEmpty()) {
      timers.startSingleTimer(STEP_TIMER, new StepTimedOut(inFlight), settings.stepTimeout());
      restartCheck();
      progressed = true;
    }
    promptRead(current.role(), p.requestId(), p.promptTokens(), p.cachedTokens());
    sync.tokenizerKey(current.role(), p.tokenizerKey());
    // An earlier partial was lost between the nodes: the client's text would miss its tokens. The
    // request's Done brings them all, and what the client has not been sent goes out then.
    if (p.offset() != failover.streamedCount()) return this;
    failover.streamed(p.injected(), p.generated());
    stream.emit(Author.injected, current.reason(), p.injected());
    stream.emit(current.role() == Role.small ? Author.small : Author.large, current.reason(), p.generated());
    return this;
  }

  private Behavior<Command> onDone(WorkerProtocol.Done d) {
    Role role = current.role();
    sync.tokenizerKey(role, d.tokenizerKey());
    promptRead(role, d.requestId(), d.promptTokens(), d.cachedTokens());
    int base = current.basePosition();
    StepResult result = failover.result(d);
    sync.done(role, plan.committed().subList(0, base), result.injected(), result.generated());
    queueNanos += d.queueNanos();
    if (settings.skipTakeoverAbove() != null && role == Role.large)
      directory.tell(new WorkerDirectory.QueueWaited(inFlightTo, Duration.ofNanos(d.queueNanos())));
    if (settings.publishStepTimings())
      getContext().getSystem().eventStream().tell(new EventStream.Publish<>(
          new StepTimings(request.sessionId(), role, name(inFlightTo), base, d.prefillTokens(),
              d.generated().size(), d.queueNanos(), d.computeNanos())));
    plan.accept(result);
    underWay = true;
    stream.flush(plan.committed(), plan.trace().spans());
    return advance();
  }

  private Behavior<Command> onResync(WorkerProtocol.Resync r) {
    if (++resyncs > settings.maxResyncs())
      return fail(FailureCode.WORKER_LOST, current.role() + " worker keeps losing the session's cache (" + resyncs + " resyncs in one step)");
    sync.resync(current.role(), r.havePosition());
    send(sync.binding(current.role()));
    return this;
  }

  private Behavior<Command> onRejected(WorkerProtocol.Rejected r) {
    SyncEncoder.Binding b = sync.binding(current.role());
    // Spill over to the next worker in this session's order, if any has not refused yet.
    int i = b.ranked.indexOf(b.worker);
    for (int j = i + 1; j < b.ranked.size(); j++) {
      ActorRef<WorkerProtocol.Command> next = b.ranked.get(j);
      if (!failover.lost().contains(next)) {
        bind(current.role(), next);
        send(b);
        return this;
      }
    }
    boolean full = r.code() == FailureCode.QUEUE_FULL || r.code() == FailureCode.TENANT_QUEUE_FULL;
    // An engine shutting down refuses new steps while it finishes those in flight: no room now, though not for
    // being busy (tester47g read "at capacity"); its worker, withdrawn, stops once those have ended.
    boolean shuttingDown = r.code() == FailureCode.UNAVAILABLE;
    if (skipping() && (full || shuttingDown)) return skip();
    if ((full || shuttingDown) && underWay) {
      long now = System.nanoTime();
      if (roomWaitSince < 0) roomWaitSince = now;
      if (now - roomWaitSince < settings.workerWait().toNanos()) {
        Duration pause = roomRetryAfter(roomRefusals++);
        getContext().getLog().debug("session {}: every {} worker's queue is full; sending the step again in {} ms",
            request.sessionId(), current.role(), pause.toMillis());
        timers.startSingleTimer(ROOM_TIMER, new RoomRetry(stepSeq), pause);
        return this;
      }
      return fail(failedFor(r.code()), (r.code() == FailureCode.TENANT_QUEUE_FULL ? "no " + current.role()
          + " worker took more of this tenant's requests" : shuttingDown ? "no " + current.role() + " worker took the step"
          : "every " + current.role() + " worker stayed at capacity")
          + " for " + Seconds.of(settings.workerWait()) + " s (tandem.session.worker-wait) after the request had begun: "
          + r.reason());
    }
    return fail(failedFor(r.code()), (r.code() == FailureCode.TENANT_QUEUE_FULL ? "no " + current.role()
        + " worker takes more of this tenant's requests now: " : full ? "all " + current.role() + " workers are at capacity: "
        : "no " + current.role() + " worker takes the step now: ") + r.reason());
  }

  /**
   * What a step every worker refused fails the session with: a refusal's own code, but an engine shutting down's ({@link
   * FailureCode#UNAVAILABLE}) is no worker to take it, which a retry a second later meets again, so the client is told to
   * wait as for one (tandem.session.worker-wait; tester49d: Retry-After 1 beside the 10 of the requests after it).
   */
  private static FailureCode failedFor(FailureCode refused) {
    return refused == FailureCode.UNAVAILABLE ? FailureCode.NO_WORKER : refused;
  }

  private Behavior<Command> onListed(Listed l) {
    Role role = l.workers().role();
    if (role == Role.large && askedAhead && sync.binding(role).worker == null && (current == null || current.role() != role))
      return onListedAhead(l.workers());
    if (current == null || current.role() != role || inFlight >= 0) return this; // an answer for a step gone by
    timers.cancel(WAIT_TIMER);
    SyncEncoder.Binding b = sync.binding(role);
    List<ActorRef<WorkerProtocol.Command>> ranked = ranked(l.workers(), b.ranked.isEmpty());
    if (ranked.isEmpty() && failover.hasLost(role)) return noWorkerLeft(role);
    if (ranked.isEmpty() && l.workers().gone())
      return noWorker(role, RoleSupply.get(getContext().getSystem()).clustered()
          ? "the last " + role + " node was downed, and none is on its way" : "all have stopped");
    if (ranked.isEmpty()) return dispatch();
    b.ranked = ranked;
    noWorkerLog.served(role);
    bind(role, ranked.get(0));
    return dispatch();
  }

  /**
   * {@code workers} in this session's order of preference, the lost ones left out: by affinity, or,
   * {@code fresh} (not bound to any worker of the role yet: no cache to come back to), the least
   * loaded of its first choices first.
   */
  private List<ActorRef<WorkerProtocol.Command>> ranked(WorkerDirectory.Workers workers, boolean fresh) {
    List<ActorRef<WorkerProtocol.Command>> ranked = new ArrayList<>(fresh
        ? Affinity.rankByLoad(request.sessionId(), workers.workers(), this::name, workers.load(), settings.loadChoices())
        : Affinity.rank(request.sessionId(), workers.workers(), this::name));
    ranked.removeAll(failover.lost());
    return ranked;
  }

  /** The large workers listed for a prefill ahead: bind the one a takeover would take, and prefill. */
  private Behavior<Command> onListedAhead(WorkerDirectory.Workers workers) {
    List<ActorRef<WorkerProtocol.Command>> ranked = ranked(workers, true);
    if (ranked.isEmpty()) return this; // none now: the first large step looks again, and waits
    sync.binding(Role.large).ranked = ranked;
    noWorkerLog.served(Role.large);
    bind(Role.large, ranked.get(0));
    if (current != null && current.role() == Role.small) prefillAhead();
    return this;
  }

  private Behavior<Command> onQueueWait(QueueWaitKnown q) {
    if (current == null || inFlight >= 0) return this;
    if (sync.binding(current.role()).worker == null) {
      // The worker asked about was lost meanwhile: find another, and ask again.
      queueChecked = false;
      return dispatch();
    }
    if (q.expected().compareTo(settings.skipTakeoverAbove()) > 0) {
      getContext().getLog().debug("session {}: skipping a takeover; the large queue would hold it {} ms",
          request.sessionId(), q.expected().toMillis());
      return skip();
    }
    send(sync.binding(current.role()));
    return this;
  }

  private Behavior<Command> skip() {
    plan.skip();
    stream.flush(plan.committed(), plan.trace().spans());
    return advance();
  }

  private void bind(Role role, ActorRef<WorkerProtocol.Command> worker) {
    getContext().getLog().debug("session {}: {} worker {}", request.sessionId(), role, worker.path());
    sync.bind(role, worker);
    getContext().watchWith(worker, new WorkerGone(worker));
  }

  // ---- lost workers

  private Behavior<Command> onUnreachable(Unreachable u) {
    boolean wasOut = inFlight >= 0 && unreachable.contains(inFlightTo.path().address());
    unreachable = u.nodes();
    checkReachability();
    // Back: what it sent meanwhile may have been lost on the way (see restartCheck), so ask now.
    if (wasOut && !unreachable.contains(inFlightTo.path().address())) askStepStatus();
    return this;
  }

  /** Starts the clock on the worker holding the step when its node is unreachable; stops it when it is back. */
  private void checkReachability() {
    if (inFlight >= 0 && unreachable.contains(inFlightTo.path().address())) {
      if (!timers.isTimerActive(LOST_TIMER))
        timers.startSingleTimer(LOST_TIMER, new WorkerLost(inFlight), settings.workerLostAfter());
    } else {
      timers.cancel(LOST_TIMER);
    }
  }

  /** The worker holding the step has been unreachable long enough: give it up if another can take the step. */
  private Behavior<Command> onWorkerLost(WorkerLost l) {
    if (l.requestId() != inFlight) return this;
    Role role = current.role();
    Set<ActorRef<WorkerProtocol.Command>> exclude = new HashSet<>(failover.lost());
    exclude.add(inFlightTo);
    long id = inFlight;
    getContext().ask(WorkerDirectory.Workers.class, directory, recheckEvery(),
        replyTo -> new WorkerDirectory.GetWorkers(role, exclude, replyTo, true),
        (others, failure) -> new OthersListed(id, others));
    return this;
  }

  private Behavior<Command> onOthersListed(OthersListed o) {
    // Answered, moved, or back meanwhile: nothing to decide.
    if (o.requestId() != inFlight || !unreachable.contains(inFlightTo.path().address())) return this;
    if (o.others() == null || o.others().workers().isEmpty()) {
      // A node downed will not come back: its removal, which another member unreachable delays, is not waited for
      // (tester55c: sessions whose step was on the downed node were answered 4.8 s after newer requests).
      if (NodeStanding.downed(getContext().getSystem(), inFlightTo.path().address())) {
        inFlightTo.tell(new WorkerProtocol.Release(request.sessionId()));
        return lose(inFlightTo, "on a node that was downed");
      }
      // Giving up would end the session: its node may yet come back, or be removed, and death watch tells.
      if (!saidWaiting)
        getContext().getLog().info("session {}: {} worker {} is on an unreachable node; no other {} worker; "
            + "waiting for its node to come back or be removed", request.sessionId(), current.role(), inFlightTo.path(),
            current.role());
      saidWaiting = true;
      timers.startSingleTimer(LOST_TIMER, new WorkerLost(inFlight), recheckEvery());
      return this;
    }
    // Its node may only have stalled, and a lost worker is never told anything again: should it come
    // back, this drops the step given up on and frees the session's cache there.
    inFlightTo.tell(new WorkerProtocol.Release(request.sessionId()));
    return lose(inFlightTo, "on a node unreachable for at least " + settings.workerLostAfter().toMillis() + " ms");
  }

  /** How often a session waiting for an unreachable node looks again for another worker. */
  private Duration recheckEvery() {
    return settings.workerLostAfter().compareTo(MIN_RECHECK) < 0 ? MIN_RECHECK : settings.workerLostAfter();
  }

  /**
   * {@code worker} is lost ({@code why}); when it held the step, the step goes to another worker
   * of the role, or the session follows {@code on-large-loss}.
   */
  private Behavior<Command> lose(ActorRef<WorkerProtocol.Command> worker, String why) {
    if (failover.lost().contains(worker)) return this;
    if (aheadId >= 0 && worker.equals(sync.binding(Role.large).worker)) {
      aheadId = -1;
      aheadPrefix = null;
    }
    boolean wasInFlight = inFlight >= 0 && worker.equals(inFlightTo);
    Role role = wasInFlight ? current.role() : sync.roleOf(worker);
    failover.lose(worker, role, wasInFlight);
    sync.unbind(worker);
    getContext().unwatch(worker);
    if (!wasInFlight) return this;
    stopWaiting();
    getContext().getLog().info("session {}: {} worker {} {}, mid-step; looking for another of its role",
        request.sessionId(), role, worker.path(), why);
    return dispatch();
  }

  /** The session lost a worker of {@code role} and no other is listed. */
  private Behavior<Command> noWorkerLeft(Role role) {
    String leaving = selfLeaving();
    // Its workers are lost because this node is: neither another worker nor the small model alone can go on.
    if (leaving != null) return failLeaving(leaving, "lost its " + role + " worker");
    if (degrades(role) || largeFinishes(role)) return goOnWithout(role);
    // No worker of the role is offered: NO_WORKER, as for a request that finds none, whose 503 says to wait worker-wait.
    return failWithout(role, FailureCode.NO_WORKER, "the session lost its " + role + " worker and no " + role
        + " worker is available to go on: retry the request once one is back" + (role == Role.large
            ? " (or send \"tandem\": {\"mode\": \"small\"} to use the small model alone" + (request.mode() == Mode.speculative
                ? "; a server with tandem.session.on-large-loss = degrade finishes such a session with it)" : ")")
            : request.mode() == Mode.speculative ? " (or send \"tandem\": {\"mode\": \"large\"} to use the large model alone;"
                + " a server with tandem.session.on-small-loss = large finishes such a session with it)" : ""));
  }

  /**
   * Fails the session of a node on its way out of the cluster ({@code leaving}, from {@link
   * #selfLeaving}), whose workers are out of its reach: not counted as a role unserved ({@link
   * NoWorkerLog}), as they may serve on for the other nodes.
   */
  private Behavior<Command> failLeaving(String leaving, String what) {
    String message = leaving + ", so the session " + what + "; retry the request (on a node still in the cluster, or on"
        + " this one once it has restarted)";
    getContext().getLog().info("session {} failed: {}", request.sessionId(), message);
    return failed(FailureCode.WORKER_LOST, message);
  }

  private Behavior<Command> onNodeDowned() {
    String leaving = selfLeaving();
    // Told of its own MemberDowned, this node's view of itself may not say so yet: the same words either way.
    return failLeaving(leaving != null ? leaving : NodeStanding.DOWNED,
        current == null ? "cannot go on" : "lost its " + current.role() + " worker");
  }

  /** Why this node cannot reach the cluster's workers, or null: see {@link NodeStanding#outOfTouch}. */
  private String selfLeaving() {
    return NodeStanding.outOfTouch(getContext().getSystem());
  }

  /**
   * No worker of {@code lost} is left (or, for the large role, none was there to begin with): the
   * other model alone finishes from what is committed, the lost one's carried part of the step
   * included ({@code on-large-loss = degrade}, {@code on-small-loss = large}).
   */
  private Behavior<Command> goOnWithout(Role lost) {
    plan = failover.alone(lost, plan, current, request.maxTokens());
    degraded = true;
    String line = "session " + request.sessionId() + ": no " + lost + " worker available; going on with the "
        + (lost == Role.large ? Role.small : Role.large) + " model alone after " + plan.committed().size() + " tokens";
    getContext().getLog().debug(line);
    noWorkerLog.unserved(lost, true, line);
    return advance();
  }

  // ---- timers and cancellation

  private Behavior<Command> onTimeOut() {
    acceptStreamed();
    cancelInFlight();
    plan.timeOut();
    return finish();
  }

  /**
   * What the step in flight streamed is the client's already (an always-kept step streams as it
   * goes): the plan takes it as the step's output when the session ends before the step does (its
   * {@code time_out}, a stop string), so that the answer's counters and /metrics count the tokens
   * its usage does, and a takeover cut short is a takeover (its large-model span was one).
   */
  private void acceptStreamed() {
    if (inFlight >= 0 && current != null && current.alwaysKept()) {
      StepResult streamed = failover.streamedSoFar();
      if (!streamed.injected().isEmpty() || !streamed.generated().isEmpty()) plan.accept(streamed);
    }
  }

  private Behavior<Command> onStepTimedOut(StepTimedOut t) {
    if (t.requestId() != inFlight) return this;
    cancelInFlight();
    // Not yet begun, the step may have waited its time in the worker's queue, behind a batch full of long answers
    // (tester60c read a worker that was only busy as a stuck one).
    return fail(FailureCode.TIMEOUT, current.role() + " worker " + (progressed ? "wrote nothing more for " : "did not answer within ")
        + Seconds.of(settings.stepTimeout()) + " s (tandem.session.step-timeout)" + (progressed ? "" : ": a step's wait in"
        + " the worker's queue and its prompt's prefill count, so a long prompt, or a batch (tandem." + current.role()
        + ".max-batch) full of long answers ahead of it, times it out; raise step-timeout (or, for a full batch, max-batch,"
        + " or add workers)"));
  }

  /** Sends the step refused for full queues again, from the first worker of its order not lost. */
  private Behavior<Command> onRoomRetry(RoomRetry r) {
    if (current == null || r.stepSeq() != stepSeq || inFlight >= 0) return this;
    SyncEncoder.Binding b = sync.binding(current.role());
    for (ActorRef<WorkerProtocol.Command> w : b.ranked)
      if (!failover.lost().contains(w)) {
        if (!w.equals(b.worker)) bind(current.role(), w);
        send(b);
        return this;
      }
    return dispatch();
  }

  private Behavior<Command> onWaitTimedOut(WaitTimedOut w) {
    if (current == null || current.role() != w.role() || sync.binding(w.role()).worker != null) return this;
    return noWorker(w.role(), "waited " + Seconds.of(settings.workerWait()) + " s");
  }

  /**
   * No worker of {@code role} to start the step on ({@code why}), one may come later: see {@link
   * #noWorker(Role, FailureCode, String)}; the message says what to do, as when the session lost its
   * worker ({@link #noWorkerLeft}; tester55a: "(all have stopped)" said nothing more).
   */
  private Behavior<Command> noWorker(Role role, String why) {
    Role other = role == Role.large ? Role.small : Role.large;
    return noWorker(role, FailureCode.NO_WORKER, "no " + role + " worker is available (" + why + "; retry the request once"
        + " one is back, or send \"tandem\": {\"mode\": \"" + other + "\"} to use the " + other + " model alone)");
  }

  /**
   * No worker of {@code role} to start the step on: without a large one, degrade when configured
   * to; else fail with {@code code} ({@link FailureCode#ROLE_NOT_SERVED} when none can ever come).
   */
  private Behavior<Command> noWorker(Role role, FailureCode code, String message) {
    String leaving = selfLeaving();
    if (leaving != null) return failLeaving(leaving, "found no " + role + " worker");
    if (degrades(role) || largeFinishes(role)) return goOnWithout(role);
    return failWithout(role, code, message);
  }

  /**
   * Whether the session finishes with the small model alone for want of a worker of {@code role}:
   * a speculative one without a large worker, where {@code tandem.session.on-large-loss = degrade};
   * never a request of {@code mode: large}, which asked for the large model alone (and which, new,
   * gets the 503 in the same state), nor one that already goes on with one model alone: without
   * that model too it fails (tester55c: with both roles' nodes removed at once, sessions handed
   * themselves from one model alone to the other about 100,000 times a second, and their clients
   * waited without end).
   */
  private boolean degrades(Role role) {
    return role == Role.large && request.mode() == Mode.speculative && settings.degradeWithoutLarge() && !degraded;
  }

  /**
   * Whether the session finishes with the large model alone for want of a small worker: a
   * speculative one, where {@code tandem.session.on-small-loss = large}. (A new request over HTTP
   * that finds no small worker to count its prompt gets its 503 before any session starts.) Not
   * one that already goes on with one model alone (see {@link #degrades}).
   */
  private boolean largeFinishes(Role role) {
    return role == Role.small && request.mode() == Mode.speculative && settings.largeWithoutSmall() && !degraded;
  }

  /** A worker's full path, with its node's address even when it is on this node: the same name on every node. */
  private String name(ActorRef<WorkerProtocol.Command> worker) {
    return worker.path().toStringWithAddress(selfAddress);
  }

  private Behavior<Command> onCancel() {
    cancelInFlight();
    failover.release(request.sessionId());
    return Behaviors.stopped();
  }

  private Behavior<Command> onStop() {
    acceptStreamed();
    cancelInFlight();
    return finish(FinishReason.stop);
  }

  private void cancelInFlight() {
    if (inFlight >= 0 && inFlightTo != null) inFlightTo.tell(new WorkerProtocol.Cancel(request.sessionId(), inFlight));
    stopWaiting();
  }

  // ---- the end

  private Behavior<Command> finish() {
    return finish(null);
  }

  /** Ends the generation; {@code reason}, when not null, replaces the plan's finish reason. */
  private Behavior<Command> finish(FinishReason reason) {
    timers.cancelAll();
    stream.flush(plan.committed(), plan.trace().spans());
    Trace trace = plan.trace();
    if (reason != null) trace = new Trace(trace.text(), reason, trace.spans(), trace.counters());
    failover.release(request.sessionId());
    client.tell(new SessionEvent.Finished(trace,
        new SessionEvent.Usage(promptTokens, plan.committed().size(), cachedPromptTokens), degraded, queueNanos));
    return Behaviors.stopped();
  }

  private Behavior<Command> fail(FailureCode code, String message) {
    // A prompt past the context is the client's mistake, which its answer names, and a tenant over its
    // share of a queue its own limit met (a 429; tester44c: one tenant's burst filled the log): not the server's warning.
    if (code == FailureCode.CONTEXT_LENGTH_EXCEEDED || code == FailureCode.INVALID_REQUEST || code == FailureCode.TENANT_QUEUE_FULL)
      getContext().getLog().debug("session {} failed: {}", request.sessionId(), message);
    else getContext().getLog().warn("session {} failed: {}", request.sessionId(), message);
    return failed(code, message);
  }

  /**
   * Fails for want of a worker of {@code role}: a restart of the role's only node fails every
   * request that needs it meanwhile, so {@link NoWorkerLog} logs a run of them at WARN, and each
   * session its own line at DEBUG.
   */
  private Behavior<Command> failWithout(Role role, FailureCode code, String message) {
    // Where the role's workers are this node's engines, what their health check found, as readiness and the HTTP layer's
    // refusals say it (tester46f, tester47d: a speculative request's 503 named no engine where mode large's did).
    String engines = io.tandem.protocol.worker.EngineHealth.get(getContext().getSystem()).notServing(role);
    if (engines != null) message += "; this node's " + role + " " + engines;
    String line = "session " + request.sessionId() + " failed: " + message;
    getContext().getLog().debug(line);
    noWorkerLog.unserved(role, false, line);
    return failed(code, message);
  }

  private Behavior<Command> failed(FailureCode code, String message) {
    timers.cancelAll();
    cancelInFlight();
    plan.fail(message);
    failover.release(request.sessionId());
    client.tell(new SessionEvent.Failed(code, message, plan.trace()));
    return Behaviors.stopped();
  }
}
