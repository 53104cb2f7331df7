package io.tandem.worker;

import akka.actor.typed.Behavior;
import akka.actor.typed.PostStop;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.javadsl.StashBuffer;
import akka.actor.typed.receptionist.Receptionist;
import com.typesafe.config.Config;
import io.tandem.inference.LanguageModel;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.text.Plural;
import io.tandem.protocol.worker.WorkerProtocol;
import io.tandem.protocol.worker.WorkerProtocol.Cancel;
import io.tandem.protocol.worker.WorkerProtocol.Command;
import io.tandem.protocol.worker.WorkerProtocol.Failed;
import io.tandem.protocol.worker.WorkerProtocol.Generate;
import io.tandem.protocol.worker.WorkerProtocol.GetStats;
import io.tandem.protocol.worker.WorkerProtocol.Release;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.PriorityBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * The worker actor both roles run: owns one model replica on one device and serves many sessions
 * with continuous batching. Between two forward passes it admits every waiting request its {@link
 * Scheduler} has room for; each request leaves the batch as soon as it hits its stop condition (a
 * trigger, its token budget, EOS).
 *
 * <p>Protocol: {@link Generate}, {@link Cancel}, {@link Release}, {@link GetStats}, {@link WorkerProtocol.ResetPrefixCache} (see
 * {@link WorkerProtocol}); replies go to each request's {@code replyTo}. The actor talks; the
 * {@link Scheduler} decides what runs; the {@link LanguageModel} computes; {@link SessionView} is
 * the worker half of the delta/position sync. Model calls block, so the worker must run on its own
 * dispatcher ({@value #DISPATCHER}). A forward pass that may be long (one that prefills, or any
 * after a pass that took {@link #INLINE_PASS_NANOS} or more: a slow device) runs on a thread of the
 * worker's own, so that the worker still answers {@link GetStats} during it, as Prometheus reads
 * {@code up}: reachable and answering, busy or not, and {@link WorkerProtocol.CountTokens}, so that
 * other clients' prompts are counted (and over-long ones refused) while every worker of the role
 * prefills a long prompt; every other message waits for the pass to end. A pass that admits new
 * requests runs there too, admission included ({@link #passWithAdmissions}): forking a cached
 * prefix copies KV rows and may grow the model's KV pool, which held the actor for seconds in a
 * burst of new sessions. Counts run on threads of
 * their own (short prompts on one, long ones on another, shortest first), so that tokenizing a
 * long prompt holds neither the passes, the actor nor a short prompt's count, as vLLM's API server
 * tokenizes apart from its engine's steps. A count reads only the tokenizer
 * (thread-safe: Hugging Face's Rust one), the chat template and the model's fixed figures, which
 * the step thread does not change: it runs {@code model.forward} on the batch's sequences and
 * caches, and the admission before it (which renders prompts as counts do).
 * The role's factory ({@code SmallWorker}, {@code LargeWorker}) chooses the admission order.
 */
public final class ModelWorker extends AbstractBehavior<Command> {

  /** Self-message: run one forward pass over the batch. */
  private enum ForwardTick implements Command {
    INSTANCE
  }

  /** Self-message: the forward pass over {@code batch} ended, with {@code next} or {@code error}. */
  private record StepDone(Scheduler.Batch<StepRun> batch, int[] next, Throwable error, long nanos) implements Command {}
  /** Released sessions' caches are freed (see {@link #release(List)}); {@code error} null unless that failed. */
  private record Released(Throwable error) implements Command {}

  /**
   * A request that came during a pass, held until it ends with the time it came: its queue time
   * counts from then, not from the pass's end (tester61a's test: a request held behind a long prefill
   * was said to have queued only after it).
   */
  private record CameDuringStep(Generate request, long arrivedNanos) implements Command {}

  /** What the scheduler held when the pass in flight began: the figures {@link GetStats} gives during it. */
  private record AtStep(int waiting, int running, long cacheBytes, long cacheBytesInUse, int sessions) {}

  /** The scheduler's figures now. */
  private AtStep atStepNow() {
    return new AtStep(scheduler.waiting(), scheduler.running(), scheduler.cacheBytes(), scheduler.cacheBytesInUse(),
        scheduler.sessions());
  }

  /**
   * A decode pass expected to take less than this (the last pass did) runs on the actor's thread: a
   * {@link GetStats} waits at most about that long, a tenth of {@code tandem.http.worker-figures-timeout}'s
   * 0.5 s, and the two thread handoffs of a pass run elsewhere (about 30 microseconds a pass, measured with
   * zero-latency models on a loaded 2-core machine: half of {@code bench orchestration}'s tokens/s
   * for one session) are not paid where passes are shortest.
   */
  static final long INLINE_PASS_NANOS = 50_000_000L;

  /** The dispatcher every worker actor must be spawned on (a thread of its own; reference.conf). */
  public static final String DISPATCHER = "tandem.worker-dispatcher";

  /**
   * A worker of {@code role} that opens its model (on its own thread) with {@code modelFactory},
   * then registers with the Receptionist under the role's key; {@code queue} makes its admission
   * queue (the role's order).
   */
  public static Behavior<Command> create(
      Role role, Supplier<LanguageModel> modelFactory, WorkerSettings settings, Supplier<AdmissionQueue> queue) {
    return create(role, modelFactory, settings, queue, new CompletableFuture<>());
  }

  /**
   * As {@link #create(Role, Supplier, WorkerSettings, Supplier)}, completing {@code loaded} with the
   * model's name once it is open, or with the error that kept it from opening (the worker then stops).
   */
  public static Behavior<Command> create(Role role, Supplier<LanguageModel> modelFactory, WorkerSettings settings,
      Supplier<AdmissionQueue> queue, CompletableFuture<String> loaded) {
    return Behaviors.setup(
        ctx -> {
          LanguageModel model;
          try {
            model = modelFactory.get();
          } catch (RuntimeException e) {
            ctx.getLog().error("{} worker {} could not open its model: {}", role, ctx.getSelf().path().name(), e.getMessage());
            loaded.completeExceptionally(e);
            return Behaviors.stopped();
          }
          loaded.complete(model.name());
          ctx.getLog().info("{} worker {} serving {}{}", role, ctx.getSelf().path().name(), model.name(),
              kvCapacity(model, settings));
          if (!model.hasChatTemplate())
            ctx.getLog().warn("{} worker {}: {} has no chat template (tokenizer_config.json chat_template or"
                + " chat_template.jinja): chat requests{} are refused (a 400); raw prompts are served (/v1/completions,"
                + " tandem generate --no-chat-template)", role, ctx.getSelf().path().name(), model.name(),
                role == Role.large ? " in speculative and large mode" : " in speculative and small mode");
          String tooSmall = budgetWarning(role, model, settings);
          if (tooSmall != null) ctx.getLog().warn("{} worker {}: {}", role, ctx.getSelf().path().name(), tooSmall);
          ctx.getSystem().receptionist().tell(Receptionist.register(ServiceKeys.forRole(role), ctx.getSelf()));
          return Behaviors.<Command>withStash(Integer.MAX_VALUE,
              stash -> new ModelWorker(ctx, role, model, settings, queue.get(), stash));
        });
  }

  /**
   * What the KV budget holds, for the worker's start line, as vLLM logs its maximum concurrency:
   * empty for a model without a cache.
   */
  static String kvCapacity(LanguageModel model, WorkerSettings settings) {
    if (model.cacheBytesPerToken() <= 0) return "";
    int n = sequencesAtFullContext(model, settings);
    return String.format(Locale.ROOT, "; KV cache budget %s (%,d bytes per token): room for %s at the full context of %,d tokens",
        bytes(settings.kvCacheBytes()), model.cacheBytesPerToken(),
        n == settings.effectiveBatch() ? "a whole batch (" + Plural.count(n, "sequence") + ")" : n + " sequence(s)", model.contextLength());
  }

  /**
   * The warning for a budget that holds not one sequence at the full context, or not even one
   * sequence of a single token in the model's cache layout (then every sequence runs alone); null
   * when it holds one, or the model keeps no cache.
   */
  static String budgetWarning(Role role, LanguageModel model, WorkerSettings settings) {
    if (model.cacheBytesPerToken() <= 0) return null;
    long budget = settings.kvCacheBytes();
    long smallest = model.cacheBytesFor(new int[] {1});
    if (smallest > budget)
      return "tandem." + role + ".kv-cache-bytes (" + bytes(budget) + ") is less than the smallest KV cache this model "
          + "lays out (" + bytes(smallest) + "): every sequence will run alone, one forward pass each. Raise it.";
    if (sequencesAtFullContext(model, settings) > 0) return null;
    return "one sequence at the full context (" + String.format(Locale.ROOT, "%,d", model.contextLength()) + " tokens) needs "
        + bytes(model.cacheBytesFor(new int[] {model.contextLength()})) + " of KV cache, more than tandem." + role
        + ".kv-cache-bytes (" + bytes(budget) + "); such a sequence runs alone, past the budget. Raise the budget if "
        + "the node has the memory.";
  }

  /** How many sequences at the full context fit the budget together (at most max-batch), 0 if not one. */
  static int sequencesAtFullContext(LanguageModel model, WorkerSettings settings) {
    int n = 0;
    while (n < settings.effectiveBatch()) {
      int[] lengths = new int[n + 1];
      Arrays.fill(lengths, model.contextLength());
      if (model.cacheBytesFor(lengths) > settings.kvCacheBytes()) break;
      n++;
    }
    return n;
  }

  /** Bytes for a log line: {@code 4 GiB}, {@code 1.5 MiB}, {@code 300 bytes}. */
  static String bytes(long n) {
    String[] units = {"KiB", "MiB", "GiB", "TiB"};
    if (n < 1024) return n + " bytes";
    double v = n;
    int u = -1;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    String figure = String.format(Locale.ROOT, "%.1f", v);
    return (figure.endsWith(".0") ? figure.substring(0, figure.length() - 2) : figure) + " " + units[u];
  }

  private final Role role;
  private final LanguageModel model;
  private final ServedModel served;
  private final WorkerSettings settings;
  private final Scheduler<StepRun> scheduler;
  private final SessionWatch sessions;
  /** Null on a lone node: see {@link WorkerDrain}. */
  private final WorkerDrain drain;
  private boolean tickPending;
  private final WorkerMetrics metrics = new WorkerMetrics();
  /** Runs the forward passes, one at a time, off the actor's thread. */
  private final ExecutorService stepThread;
  /** The actor's name, for what the step thread logs. */
  private final String name;
  /**
   * Where prompts are counted ({@link WorkerProtocol.CountTokens}), beside the passes and the actor:
   * short ones (up to {@value #SHORT_PROMPT} characters or token ids) on a thread of their own, so
   * that no client's short prompt waits for another's long one; long ones one at a time, shortest first.
   */
  private final ThreadPoolExecutor countThread;
  private final ThreadPoolExecutor longCountThread;
  /** The most characters (or token ids) of a prompt counted on {@link #countThread}: milliseconds of tokenizing. */
  static final int SHORT_PROMPT = 16_384;
  private static final String FRAME_SIZE = "akka.remote.artery.advanced.maximum-frame-size";

  /** Artery's largest message, which a count's answer to another node must fit; 0 without remoting. */
  private final long frameBytes;

  /** Counts handed to the count threads so far: the order among prompts of one size. */
  private long countsTaken;

  /**
   * Counts handed to the count threads and not yet begun, until they begin or their asker calls
   * them off ({@link WorkerProtocol.CancelCount}); whichever comes first takes the count out.
   */
  private final Set<Count> waitingCounts = ConcurrentHashMap.newKeySet();

  /**
   * The counts waiting or in progress ({@link WorkerProtocol.CountTokens#asked}): an asker on
   * another node that heard nothing asks again on the same reply path (its count or the answer may
   * have been lost between the nodes), and a count it is still waiting for is not done twice.
   */
  private final Set<WorkerProtocol.CountTokens.Asked> countingFor = ConcurrentHashMap.newKeySet();

  /**
   * A count waiting for a count thread: ordered by the prompt's size, then by {@code arrival} (the
   * order received); {@code receivedNanos}, when on {@link System#nanoTime}. Equal only to itself,
   * as the set of waiting counts and the count threads' queues hold it.
   */
  private static final class Count implements Runnable, Comparable<Count> {
    private final WorkerProtocol.CountTokens c;
    private final ServedModel served;
    private final long frameBytes;
    private final long size;
    private final long arrival;
    private final long receivedNanos;
    private final Set<Count> waiting;
    private final Set<WorkerProtocol.CountTokens.Asked> countingFor;

    Count(WorkerProtocol.CountTokens c, ServedModel served, long frameBytes, long size, long arrival, long receivedNanos,
        Set<Count> waiting, Set<WorkerProtocol.CountTokens.Asked> countingFor) {
      this.c = c;
      this.served = served;
      this.frameBytes = frameBytes;
      this.size = size;
      this.arrival = arrival;
      this.receivedNanos = receivedNanos;
      this.waiting = waiting;
      this.countingFor = countingFor;
    }

    /**
     * Counts, and answers within one frame of {@code frameBytes} (0: the asker is on this node);
     * a count called off before it began is dropped, and so is one that waited longer than its asker
     * does ({@link WorkerProtocol.CountTokens#timeoutMillis}), so that a client's retries of a prompt
     * that timed out do not queue it again and again.
     */
    @Override
    public void run() {
      try {
        countOrDrop();
      } finally {
        countingFor.remove(c.asked());
      }
    }

    private void countOrDrop() {
      if (!waiting.remove(this)) {
        LOG.debug("dropped the count of a prompt of {} characters or token ids: its asker called it off", size);
        return;
      }
      long waitedNanos = System.nanoTime() - receivedNanos;
      if (c.timeoutMillis() > 0 && waitedNanos > TimeUnit.MILLISECONDS.toNanos(c.timeoutMillis())) {
        LOG.debug("dropped the count of a prompt of {} characters or token ids: it waited {} ms, its asker {} ms", size,
            TimeUnit.NANOSECONDS.toMillis(waitedNanos), c.timeoutMillis());
        return;
      }
      WorkerProtocol.TokenCount count = StepSync.count(c, served);
      c.replyTo().tell(frameBytes > 0 ? StepSync.withinFrame(count, frameBytes) : count);
    }

    @Override
    public int compareTo(Count o) {
      int bySize = Long.compare(size, o.size);
      return bySize != 0 ? bySize : Long.compare(arrival, o.arrival);
    }
  }

  /** The worker's logger off the actor's thread too (count threads, admission on the step thread), where its context's may not be used. */
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ModelWorker.class);

  /** How long a stopping worker waits for the count in progress before it closes the model. */
  private static final int COUNT_STOP_SECONDS = 30;
  /**
   * How long a stopping worker waits for its model to be closed (the pass in flight first), within Akka's
   * {@code actor-system-terminate} phase, which reference.conf raises to 70 s for it: a pass of 16 prefill chunks of a
   * long prompt took over 8 s on a loaded machine, and the JVM's exit beside it crashed in libtorch (tester59d: SIGSEGV
   * in oneDNN, 3 of 7 SIGTERMs right after a burst of 1,000-token prompts, when the wait was 8 s).
   */
  public static final int STOP_WAIT_SECONDS = 60;
  /** After this many seconds of waiting for the pass in flight, a stopping worker says what it waits for. */
  private static final int STOP_SAY_SECONDS = 2;
  /** Messages that came during the pass in flight (all but {@link GetStats}), handled once it ends. */
  private final StashBuffer<Command> duringStep;
  /**
   * Non-null while a forward pass runs: the scheduler's figures as it began, or, for a pass that
   * admits, as its admission left them (set on the step thread, hence volatile).
   */
  private volatile AtStep atStep;
  /** {@link Generate}s among the messages held during the pass: they count as waiting. */
  private int generatesDuringStep;
  /** How long the last pass took; none yet: as long as can be. */
  private long lastPassNanos = Long.MAX_VALUE;

  private ModelWorker(ActorContext<Command> ctx, Role role, LanguageModel model, WorkerSettings settings,
      AdmissionQueue queue, StashBuffer<Command> duringStep) {
    super(ctx);
    this.duringStep = duringStep;
    String thread = "tandem-" + role + "-step-" + ctx.getSelf().path().name();
    this.name = ctx.getSelf().path().name();
    this.stepThread = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, thread);
      t.setDaemon(true);
      return t;
    });
    this.countThread = countThread(role + "-count-" + ctx.getSelf().path().name());
    this.longCountThread = countThread(role + "-long-count-" + ctx.getSelf().path().name());
    // Without Akka's remoting on the class path (a worker alone in its tests) every asker is local.
    Config akka = ctx.getSystem().settings().config();
    this.frameBytes = akka.hasPath(FRAME_SIZE) ? akka.getBytes(FRAME_SIZE) : 0;
    this.role = role;
    this.model = model;
    this.served = ServedModel.of(model);
    this.settings = settings;
    this.scheduler = new Scheduler<>(settings, queue, Scheduler.Caches.of(model));
    this.sessions = new SessionWatch(ctx);
    this.drain = WorkerDrain.register(ctx, role, sessions::count);
  }

  @Override
  public Receive<Command> createReceive() {
    return WorkerDrain.handledBy(newReceiveBuilder()
            .onMessage(StepDone.class, this::onStepDone)
            .onMessage(Released.class, this::onReleased)
            .onMessage(GetStats.class, this::onGetStats)
            .onMessage(WorkerProtocol.CountTokens.class, this::onCountTokens)
            .onMessage(WorkerProtocol.CancelCount.class, this::onCancelCount)
            .onMessage(Command.class, m -> atStep != null, this::holdDuringStep), drain)
        .onMessage(Generate.class, g -> onGenerate(g, System.nanoTime()))
        .onMessage(CameDuringStep.class, c -> onGenerate(c.request(), c.arrivedNanos()))
        .onMessageEquals(ForwardTick.INSTANCE, this::onForward)
        .onMessage(Cancel.class, this::onCancel)
        .onMessage(WorkerProtocol.GetStepStatus.class, s -> {
          // Held while a pass runs (above), as the Generate it asks of may be: so a request taken, or
          // finished and answered, in that pass is seen as it is after it.
          s.replyTo().tell(StepStatusAnswer.of(s, scheduler.holds(s.sessionId(), s.requestId()), sessions));
          return this;
        })
        .onMessage(Release.class, r -> release(r.sessionId()))
        .onMessage(SessionWatch.Ended.class, this::onSessionsEnded)
        .onMessage(WorkerProtocol.ResetPrefixCache.class, r -> {
          r.replyTo().tell(new WorkerProtocol.PrefixCacheReset(scheduler.resetPrefixCache()));
          return this;
        })
        .onMessageEquals(WorkerProtocol.Stop.INSTANCE, Behaviors::stopped)
        .onSignal(PostStop.class, s -> onStop())
        .build();
  }

  /** A request for a step, which came at {@code arrivedNanos} ({@link System#nanoTime}). */
  private Behavior<Command> onGenerate(Generate g, long arrivedNanos) {
    sessions.watch(g);
    PendingRequest ahead = g.limits().prefillAhead() ? null : scheduler.takeQueuedAhead(g.sessionId());
    scheduler.drop(g.sessionId());
    if (ahead != null) syncOnly(ahead);
    if (StepSync.enqueue(g, arrivedNanos, scheduler, metrics, role + " worker", "tandem." + role + ".")) scheduleForward();
    return this;
  }

  /**
   * A prefill ahead still queued when its session's next request comes (both came during one pass,
   * or the batch had no place for it yet): its text joins the session's view unprefilled, and the
   * request prefills it with its own, in one piece. The session counts an ahead overtaken by its
   * next request as done and sends that request from the ahead's end; dropped instead, it cost the
   * takeover a {@link WorkerProtocol.Resync}, a round trip and a cache miss.
   */
  private void syncOnly(PendingRequest ahead) {
    StepSync.Ready ready = StepSync.sync(ahead.request(), scheduler, served, metrics, getContext().getLog());
    if (ready != null) new StepRun(ahead, ready, served, metrics, sessions).finish();
  }

  private Behavior<Command> onCancel(Cancel c) {
    scheduler.drop(c.sessionId());
    return this;
  }

  private Behavior<Command> release(String sessionId) {
    return release(List.of(sessionId));
  }

  /**
   * Releases the sessions' caches, on the step thread: freeing a cache moves the pool's highest row
   * into its place and may halve the pool (a copy of what it keeps, seconds on a large model with a
   * long prompt's capacity), which on the actor's thread held the worker's figures from a scrape.
   * The worker answers {@link GetStats}, counts and drain messages meanwhile (with the figures from
   * before the release until its caches are freed); the rest wait, as during a pass. The session
   * watch and the drain see the release on the actor's thread.
   */
  private Behavior<Command> release(List<String> sessionIds) {
    for (String sessionId : sessionIds) sessions.released(sessionId);
    atStep = atStepNow();
    getContext().pipeToSelf(CompletableFuture.runAsync(() -> {
      for (String sessionId : sessionIds) {
        scheduler.drop(sessionId);
        scheduler.retire(sessionId);
      }
      // A long cache kept as a prefix may inflate every row of the pool (Scheduler.evictOverBudget):
      // freed now, not at the next pass, which on an idle server may be long in coming.
      metrics.cacheEvictions += scheduler.evictOverBudget();
      // The figures a scrape gets until the actor takes over again: the caches as they are now.
      atStep = atStepNow();
    }, stepThread), (done, error) -> new Released(error));
    return this;
  }

  /** The releases' work on the step thread ended; the messages that came meanwhile are handled. */
  private Behavior<Command> onReleased(Released r) {
    atStep = null;
    generatesDuringStep = 0;
    Throwable error = r.error() instanceof CompletionException c && c.getCause() != null ? c.getCause() : r.error();
    if (error instanceof Error e) throw e;
    if (error != null) LOG.error("{} worker: freeing released sessions' caches failed", role, error);
    if (drain != null) drain.check();
    if (scheduler.hasWork()) scheduleForward();
    return duringStep.unstashAll(this);
  }

  /** Sessions that ended without a {@link Release} (see {@link SessionWatch}) are released all the same. */
  private Behavior<Command> onSessionsEnded(SessionWatch.Ended e) {
    List<String> ended = List.copyOf(sessions.ended(e));
    for (String sessionId : ended)
      getContext().getLog().debug("{} worker: session {} ended without releasing its cache; released", role, sessionId);
    return ended.isEmpty() ? this : release(ended);
  }

  /**
   * The worker's figures: during a forward pass, the scheduler's as the pass began (the requests
   * that came since count as waiting) and the counters as they stand.
   */
  private Behavior<Command> onGetStats(GetStats g) {
    AtStep s = atStep != null ? atStep
        : atStepNow();
    g.replyTo().tell(metrics.snapshot(getContext().getSelf().path().name(), role.name(), model.name(),
        model.contextLength(), s.waiting() + generatesDuringStep, s.running(), s.cacheBytes(), s.sessions(),
        drain != null && drain.draining(), s.cacheBytesInUse(), settings.kvCacheBytes()));
    return this;
  }

  private Behavior<Command> holdDuringStep(Command c) {
    if (c instanceof Generate g) {
      generatesDuringStep++;
      duringStep.stash(new CameDuringStep(g, System.nanoTime()));
      return this;
    }
    duringStep.stash(c);
    return this;
  }

  /**
   * Counts on the worker's count threads, short prompts apart from long ones and shortest first: a
   * long prompt takes seconds to tokenize (a million digits, 2.6-3.5 s here), which on the actor's
   * thread held every decode step and every other count behind it, and on one thread held short
   * prompts behind it past the orchestrator's count timeout.
   */
  private Behavior<Command> onCountTokens(WorkerProtocol.CountTokens c) {
    long size = WorkerProtocol.CountTokens.sizeOf(c.prompt(), c.tokenIds());
    if (!countingFor.add(c.asked())) {
      getContext().getLog().debug("{} worker: asked again to count a prompt of {} characters or token ids that it has"
          + " queued or is counting; it answers once", role, size);
      return this;
    }
    Count count = new Count(c, served, frameBytes == 0 || c.replyTo().path().address().hasLocalScope() ? 0 : frameBytes,
        size, countsTaken++, System.nanoTime(), waitingCounts, countingFor);
    waitingCounts.add(count);
    try {
      (size <= SHORT_PROMPT ? countThread : longCountThread).execute(count);
    } catch (RejectedExecutionException stopping) {
      // The worker is stopping: the asker's timeout answers, as for any worker that went away.
      waitingCounts.remove(count);
      countingFor.remove(c.asked());
    }
    return this;
  }

  /** Drops the counts answered to {@code c.replyTo()} that have not begun (see {@link WorkerProtocol.CancelCount}). */
  private Behavior<Command> onCancelCount(WorkerProtocol.CancelCount c) {
    for (Count count : waitingCounts) {
      if (count.c.replyTo().equals(c.replyTo()) && waitingCounts.remove(count)) {
        // Out of the queue at once (the prompt may be a megabyte); a count thread that took it meanwhile drops it.
        if ((count.size <= SHORT_PROMPT ? countThread : longCountThread).remove(count)) countingFor.remove(count.c.asked());
        getContext().getLog().debug("{} worker: called off the count of a prompt of {} characters or token ids: its client left",
            role, count.size);
      }
    }
    return this;
  }

  private Behavior<Command> onStop() {
    if (drain != null) drain.stopped();
    countThread.shutdownNow();
    longCountThread.shutdownNow();
    org.slf4j.Logger log = getContext().getLog();
    // The caches and the model go after the pass in flight, if any, and the count in progress: they still use them.
    stepThread.execute(() -> {
      scheduler.forgetAll();
      try {
        if (!countThread.awaitTermination(COUNT_STOP_SECONDS, TimeUnit.SECONDS)
            || !longCountThread.awaitTermination(COUNT_STOP_SECONDS, TimeUnit.SECONDS))
          log.warn("{} worker: a prompt still being counted after {} s; closing the model beside it", role, COUNT_STOP_SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      model.close();
    });
    stepThread.shutdown();
    // The actor system's termination, after which the JVM exits, waits for the model to be closed, so
    // that the exit (its native destructors) never runs beside a pass still in libtorch on the step
    // thread: the likely cause of the corrupted native heap ("malloc_consolidate(): unaligned fastbin
    // chunk detected", glibc's abort) a tester saw once in about 12 shutdowns that cut 60 requests at
    // the deadline, and a SIGSEGV in oneDNN another saw after 8 s of waiting. Bounded within Akka's
    // actor-system-terminate phase (reference.conf), after which the JVM would go on exiting anyway.
    try {
      if (!stepThread.awaitTermination(STOP_SAY_SECONDS, TimeUnit.SECONDS)) {
        log.info("{} worker: stopped {} s ago; waiting for its forward pass in flight to end before the model is closed (a"
            + " pass cannot be stopped midway; up to {} s after the stop)", role, STOP_SAY_SECONDS, STOP_WAIT_SECONDS);
        long waitedFrom = System.nanoTime();
        if (!stepThread.awaitTermination(STOP_WAIT_SECONDS - STOP_SAY_SECONDS, TimeUnit.SECONDS))
          log.warn("{} worker: the model not closed {} s after the worker stopped (a pass or count still running)", role,
              STOP_WAIT_SECONDS);
        else
          // Said, so that the silence of the wait has an end (tester59e).
          log.info("{} worker: its pass ended and the model is closed, {} s after the worker stopped", role,
              String.format("%.1f", STOP_SAY_SECONDS + (System.nanoTime() - waitedFrom) / 1e9));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return this;
  }

  /** A daemon thread named {@code tandem-<name>} that runs {@link Count}s, shortest prompt first. */
  private static ThreadPoolExecutor countThread(String name) {
    return new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new PriorityBlockingQueue<>(), r -> {
      Thread t = new Thread(r, "tandem-" + name);
      t.setDaemon(true);
      return t;
    });
  }

  private void scheduleForward() {
    if (!tickPending) {
      tickPending = true;
      getContext().getSelf().tell(ForwardTick.INSTANCE);
    }
  }

  private Behavior<Command> onForward() {
    tickPending = false;
    if (scheduler.mayAdmit()) {
      passWithAdmissions();
      return this;
    }
    Scheduler.Batch<StepRun> batch = prepare();
    if (batch == null) return this;

    long t0 = System.nanoTime();
    // A pass that grows the KV pool copies all of it first (seconds, on a large model with many
    // sessions): never on the actor's thread, which a scrape's figures ask waits on.
    if (batch.prefillTokens() == 0 && lastPassNanos < INLINE_PASS_NANOS
        && !model.passGrowsCache(batch.sequences(), batch.maxPrefillTokens())) {
      int[] next = null;
      RuntimeException error = null;
      try {
        next = model.forward(batch.sequences(), batch.maxPrefillTokens());
      } catch (RuntimeException e) {
        error = e;
      }
      afterStep(new StepDone(batch, next, error, System.nanoTime() - t0));
      return this;
    }
    atStep = atStepNow();
    // The pass's own time, timed on the step thread: the handoffs, and a loaded machine's delay in
    // scheduling either thread, would make a short pass look long and send the next ones here too.
    getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> {
      long start = System.nanoTime();
      int[] next = model.forward(batch.sequences(), batch.maxPrefillTokens());
      return new Pass(next, System.nanoTime() - start);
    }, stepThread), (pass, error) -> new StepDone(batch, pass == null ? null : pass.next(), error,
        pass == null ? System.nanoTime() - t0 : pass.nanos()));
    return this;
  }

  /**
   * What comes before a pass: preemption, admission, eviction and the batch (null when nothing runs).
   * Run on the actor's thread for a decode pass, on the step thread when it admits ({@link
   * #passWithAdmissions}); the scheduler is the actor's, and its messages that touch it wait while
   * {@link #atStep} is set.
   */
  private Scheduler.Batch<StepRun> prepare() {
    preemptOverBudget();
    admitWaiting();
    // Idle caches give way before the pass grows the running ones.
    metrics.cacheEvictions += scheduler.evictOverBudget();
    return scheduler.schedule();
  }

  /**
   * A pass that admits requests, admission included, on the step thread. Admitting a new session
   * may fork a cached prefix (a copy of its KV rows) and grow the model's KV pool (a copy of the
   * whole pool): on the demo's large model, a burst of 64 new sessions on a fresh server held the
   * actor's thread for over 2 s, and the figures asks of a scrape timed out (worker_up 0). Here the
   * worker answers {@link GetStats}, counts and drain messages meanwhile; the rest wait, as during
   * any pass run on the step thread.
   */
  private void passWithAdmissions() {
    atStep = atStepNow();
    AtomicReference<Scheduler.Batch<StepRun>> prepared = new AtomicReference<>();
    getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> {
      Scheduler.Batch<StepRun> batch = prepare();
      prepared.set(batch);
      // The figures a scrape gets during the pass: the admitted requests run now.
      atStep = atStepNow();
      if (batch == null) return new Pass(null, 0);
      long start = System.nanoTime();
      int[] next = model.forward(batch.sequences(), batch.maxPrefillTokens());
      return new Pass(next, System.nanoTime() - start);
    }, stepThread), (pass, error) -> new StepDone(prepared.get(), pass == null ? null : pass.next(), error,
        pass == null ? 0 : pass.nanos()));
  }

  /** A pass run on the step thread: its tokens, and how long it took there. */
  private record Pass(int[] next, long nanos) {}

  /** The pass ended: its tokens go to their requests, then the messages that came during it are handled. */
  private Behavior<Command> onStepDone(StepDone done) {
    atStep = null;
    generatesDuringStep = 0;
    afterStep(done);
    return duringStep.unstashAll(this);
  }

  /**
   * An error's message in one line for a client: of a TorchScript error's traceback, the error it
   * ends with ({@code RuntimeError: index out of range in self}; tester48b got the traceback in a
   * 500's body), pointing to the log, which has it whole.
   */
  static String errorLine(Throwable error) {
    String message = error.getMessage() == null ? error.getClass().getSimpleName() : error.getMessage().strip();
    if (!message.contains("\n")) return message;
    String[] lines = message.split("\n");
    String last = lines[0];
    for (String line : lines)
      if (line.strip().matches("[A-Za-z.]*(Error|Exception): .*")) last = line.strip();
    return last + " (the server log has the whole error)";
  }

  private void afterStep(StepDone done) {
    Scheduler.Batch<StepRun> batch = done.batch();
    Throwable error = done.error() instanceof CompletionException c && c.getCause() != null ? c.getCause() : done.error();
    if (error instanceof Error e) throw e;
    if (error == null && batch == null) return; // admitted nothing that runs (answered at once, or no room)
    if (error != null) {
      LOG.error("{} {} failed for {} sequences", role, batch == null ? "admission" : "forward pass",
          batch == null ? scheduler.running() : batch.sequences().size(), error);
      for (StepRun a : scheduler.drainRunning()) {
        a.request.replyTo().tell(new Failed(a.request.requestId(), FailureCode.MODEL_ERROR,
            role + " forward pass failed: " + errorLine(error)));
        scheduler.forget(a.sessionId());
      }
      return;
    }
    int[] next = done.next();
    long dt = done.nanos();
    lastPassNanos = dt;
    metrics.recordStep(batch.sequences().size(), batch.prefillTokens(), dt);

    for (int i = 0; i < next.length; i++) {
      StepRun a = batch.running().get(i);
      a.computeNanos += dt;
      if (next[i] == LanguageModel.NOT_YET) {
        // Still prefilling a long prompt, or a prefill ahead, done once all but the held last token are in the cache.
        if (a.prefillAhead && a.prefilledAhead()) {
          scheduler.finish(a);
          a.finish();
        }
        continue;
      }
      if (a.accept(next[i])) {
        scheduler.finish(a);
        a.finish();
      }
    }
    metrics.cacheEvictions += scheduler.evictOverBudget();
    if (scheduler.hasWork()) scheduleForward();
  }

  /**
   * Preempts what the cache budget cannot hold this pass, warning on the first preemption and every
   * 50th after it, as vLLM does.
   */
  private void preemptOverBudget() {
    int batch = scheduler.running();
    long needed = scheduler.nextPassBytes();
    int n = scheduler.preemptOverBudget().size();
    if (n == 0) return;
    long before = metrics.preemptions;
    metrics.preemptions += n;
    if (before == 0 || before / 50 != metrics.preemptions / 50) {
      LOG.warn("{} worker {} preempted {} of {} running sequences, to be recomputed when there is room: "
          + "their KV cache would need {} after this pass, more than tandem.{}.kv-cache-bytes ({}); {} preemption(s) so "
          + "far. If this repeats, raise tandem.{}.kv-cache-bytes or lower tandem.{}.max-batch.", role,
          name, n, batch, bytes(needed), role, bytes(settings.kvCacheBytes()),
          metrics.preemptions, role, role);
    }
  }

  private void admitWaiting() {
    scheduler.resumePreempted();
    for (PendingRequest p; (p = scheduler.nextToAdmit()) != null; ) {
      StepSync.Ready ready = StepSync.sync(p.request(), scheduler, served, metrics, LOG);
      if (ready == null) continue; // answered already (resync, failure)
      StepRun a = new StepRun(p, ready, served, metrics, sessions);
      a.prefillAhead = p.request().limits().prefillAhead() && ready.view().sequence.holdLastToken(true);
      if (!a.prefillAhead) ready.view().sequence.holdLastToken(false);
      if (a.prefillAhead ? a.prefilledAhead() : a.limit() == 0) {
        a.finish();
      } else {
        a.prefillTokens = ready.view().sequence.length() - ready.view().sequence.processedLength();
        scheduler.start(a);
      }
    }
  }
}
