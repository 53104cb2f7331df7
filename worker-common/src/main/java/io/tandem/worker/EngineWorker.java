package io.tandem.worker;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.PostStop;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.receptionist.Receptionist;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.worker.WorkerProtocol;
import io.tandem.protocol.worker.WorkerProtocol.Cancel;
import io.tandem.protocol.worker.WorkerProtocol.Command;
import io.tandem.protocol.worker.WorkerProtocol.Failed;
import io.tandem.protocol.worker.WorkerProtocol.Generate;
import io.tandem.protocol.worker.WorkerProtocol.GetStats;
import io.tandem.protocol.worker.WorkerProtocol.Rejected;
import io.tandem.protocol.worker.WorkerProtocol.Release;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A worker whose model runs in a remote engine (vLLM, SGLang, another Tandem node): the same
 * {@link WorkerProtocol} as {@link ModelWorker}, with the same per-session views ({@link
 * SessionView} over {@link TokenSequence}s, ids without a cache) and the same admission ({@link
 * StepSync}) and stop rules ({@link StepRun}), but each step is one streamed {@code
 * /v1/completions} request carrying the session's tokens as ids ({@link EngineClient}); the
 * engine's prefix cache is what makes a takeover prefill only what it has not seen.
 *
 * <p>At most {@code max-concurrency} requests are in flight; more wait in the role's admission
 * queue, and a full queue rejects ({@link Rejected} with {@link FailureCode#QUEUE_FULL}). The actor
 * never blocks: the HTTP client reports on its own threads by messages to this actor.
 *
 * <p>Without a local tokenizer ({@link EngineVocabulary}) a request first asks the engine's
 * tokenizer for what its admission reads, and joins the admission queue once it answered; the
 * text of each generated token is the engine's.
 *
 * <p>A step broken after the engine took it (a connection cut mid-answer, a timeout, a 5xx) is a
 * lost engine and stops this actor: the Receptionist withdraws it and every session with a step on
 * it sees it terminate, which is how sessions handle a lost worker (retry on another worker of the
 * role, degrade, or fail, per {@code tandem.session.on-large-loss}). A port that refuses the
 * connection (or closes it before any answer) never took the step: the worker withdraws from its
 * role, refuses that step and every later one as {@link FailureCode#UNAVAILABLE}, lets its steps in
 * flight end (an engine shutting down gracefully finishes them) and stops. Its {@link
 * EngineEndpoint} spawns a fresh one when the engine's health comes back.
 */
final class EngineWorker extends AbstractBehavior<Command> {

  /**
   * The endpoint's health check found the engine not serving ({@code problem}: a refused connection,
   * an error answer), but not lost: its streams in flight may be flowing still, as from an engine
   * that closed its port to shut down gracefully (vLLM's uvicorn, a Tandem node on SIGTERM). The
   * worker withdraws from its role and takes no new step, lets its steps in flight finish (or
   * break, a lost engine as ever), and then stops (tester47d: stopped at once, every request in
   * flight failed while the engine was finishing them).
   */
  record EngineDown(String problem) implements Command {}

  /** Token ids streamed by the engine for run {@code run}, with the chunk's text. */
  private record Streamed(long run, int[] ids, String text) implements Command {}

  /**
   * The engine's tokenizer answered (or failed, {@code error}) for request {@code g}, which arrived
   * at {@code arrivedNanos} (no local tokenizer).
   */
  private record Tokenized(Generate g, long arrivedNanos, EngineVocabulary.Prepared prepared, Throwable error)
      implements Command {}

  /** The engine's tokenizer answered (or failed) for the count {@code c} (no local tokenizer). */
  private record Counted(WorkerProtocol.CountTokens c, EngineVocabulary.Prepared prepared, Throwable error)
      implements Command {}

  /**
   * The count {@code c}'s asker stops waiting in a moment (at {@code dueNanos}, by {@link
   * System#nanoTime}), and the engine's tokenizer has not answered yet.
   */
  private record CountOverdue(WorkerProtocol.CountTokens c, long dueNanos) implements Command {}

  /** How late a {@link CountOverdue} may come before it is taken for a pause of this process, not the engine's silence. */
  private static final java.time.Duration LATE = java.time.Duration.ofMillis(500);

  /** The engine's usage of run {@code run}: prompt tokens, and those its prefix cache held (-1: unknown). */
  private record Used(long run, int promptTokens, int cachedTokens) implements Command {}

  /** Run {@code run}'s stream ended. */
  private record Ended(long run, String finishReason, boolean stopString) implements Command {}

  /**
   * Run {@code run} failed; {@code lost} when the engine is unreachable or broken, {@code
   * notConnected} when its port refused the connection.
   */
  private record Broke(long run, boolean lost, FailureCode code, String message, boolean notConnected) implements Command {
    Broke(long run, boolean lost, String message) {
      this(run, lost, FailureCode.MODEL_ERROR, message, false);
    }

    Broke(long run, boolean lost, FailureCode code, String message) {
      this(run, lost, code, message, false);
    }
  }

  /** A worker of {@code role} in front of {@code client}'s engine, registering under the role's key. */
  static Behavior<Command> create(Role role, EngineModel model, EngineClient client, String modelName,
      WorkerSettings settings, AdmissionQueue queue) {
    return Behaviors.setup(ctx -> {
      ctx.getSystem().receptionist().tell(Receptionist.register(ServiceKeys.forRole(role), ctx.getSelf()));
      return new EngineWorker(ctx, role, model, client, modelName, settings, queue);
    });
  }

  /** One step in flight to the engine. */
  private static final class InFlight {
    final long id;
    final StepRun step;
    final long sentNanos;
    EngineClient.Stream stream;
    long firstTokenNanos;
    int cachedTokens = -1;
    boolean completeLocally;
    /** Engine text that came without ids (no local tokenizer): the next token's text begins with it. */
    String pendingText = "";

    InFlight(long id, StepRun step) {
      this.id = id;
      this.step = step;
      this.sentNanos = System.nanoTime();
    }
  }

  private final Role role;
  private final EngineModel model;
  private final EngineClient client;
  private final String modelName;
  private final Scheduler<StepRun> scheduler;
  private final SessionWatch sessions;
  /** Null on a lone node: see {@link WorkerDrain}. */
  private final WorkerDrain drain;
  private final WorkerMetrics metrics = new WorkerMetrics();
  private final Map<Long, InFlight> inFlight = new HashMap<>();
  private final Map<String, InFlight> bySession = new HashMap<>();
  /** No local tokenizer: the request of each session whose tokens the engine is asked for now. */
  private final Map<String, Long> tokenizing = new HashMap<>();
  /** No local tokenizer: the engine's answers for each session's queued request. */
  private final Map<String, EngineVocabulary.Prepared> prepared = new HashMap<>();
  private final EngineVocabulary vocabulary;
  /** Counts asking the engine's tokenizer now (by identity: two askers may send equal ones). */
  private final java.util.Set<WorkerProtocol.CountTokens> counting =
      java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
  private long nextRun;
  /**
   * How many times the prefix cache was reset ({@link WorkerProtocol.ResetPrefixCache}): the engine's
   * own cache cannot be emptied from here (vLLM's {@code /reset_prefix_cache} is a development
   * endpoint), so each reset salts the steps after it anew, and they share nothing cached before it
   * (tester56c: through an engine, eval's modes were served from what the warm-up and the modes
   * before had left; a speculative run prefilled 10 large-model tokens a problem against 109). A
   * session running across a reset prefills its text again at its next step.
   */
  private int cacheGeneration;
  /** Why the engine does not serve, once its endpoint said so ({@link EngineDown}): this worker then takes no new step. */
  private String withdrawnFor;

  private EngineWorker(ActorContext<Command> ctx, Role role, EngineModel model, EngineClient client, String modelName,
      WorkerSettings settings, AdmissionQueue queue) {
    super(ctx);
    this.role = role;
    this.model = model;
    this.client = client;
    this.modelName = modelName;
    this.scheduler = new Scheduler<>(settings, queue);
    this.sessions = new SessionWatch(ctx);
    this.drain = WorkerDrain.register(ctx, role, sessions::count);
    this.vocabulary = model.engineVocabulary();
  }

  @Override
  public Receive<Command> createReceive() {
    return WorkerDrain.handledBy(newReceiveBuilder(), drain)
        .onMessage(Generate.class, this::onGenerate)
        .onMessage(Streamed.class, this::onStreamed)
        .onMessage(Used.class, this::onUsed)
        .onMessage(Ended.class, this::onEnded)
        .onMessage(Broke.class, this::onBroke)
        .onMessage(Tokenized.class, this::onTokenized)
        .onMessage(Counted.class, this::onCounted)
        .onMessage(Cancel.class, c -> {
          drop(c.sessionId());
          return stopIfIdle();
        })
        .onMessage(WorkerProtocol.GetStepStatus.class, s -> {
          Long tokenized = tokenizing.get(s.sessionId());
          boolean held = (tokenized != null && tokenized == s.requestId()) || scheduler.holds(s.sessionId(), s.requestId());
          s.replyTo().tell(StepStatusAnswer.of(s, held, sessions));
          return this;
        })
        .onMessage(EngineDown.class, this::onEngineDown)
        .onMessage(Release.class, r -> {
          release(r.sessionId());
          return stopIfIdle();
        })
        .onMessage(SessionWatch.Ended.class, e -> {
          // Sessions that ended without a Release (see SessionWatch) are released all the same.
          for (String sessionId : sessions.ended(e)) release(sessionId);
          // A withdrawn worker whose last step was its session's, released, stops (tester48f: one never did, and no
          // fresh worker served the engine once it was back).
          return stopIfIdle();
        })
        .onMessage(GetStats.class, this::onGetStats)
        .onMessage(WorkerProtocol.ResetPrefixCache.class, r -> {
          cacheGeneration++;
          r.replyTo().tell(new WorkerProtocol.PrefixCacheReset(scheduler.resetPrefixCache()));
          return this;
        })
        .onMessage(WorkerProtocol.CountTokens.class, this::onCountTokens)
        .onMessage(CountOverdue.class, this::onCountOverdue)
        // Counts begin as they come (on this thread, or at the engine's tokenizer): none waits to be called off.
        .onMessage(WorkerProtocol.CancelCount.class, c -> this)
        .onMessageEquals(WorkerProtocol.Stop.INSTANCE, Behaviors::stopped)
        .onSignal(PostStop.class, s -> onStop())
        .build();
  }

  private Behavior<Command> onGenerate(Generate g) {
    if (g.limits().prefillAhead()) {
      // The engine prefills at the takeover, from its own prefix cache: syncing now would only tokenize.
      g.replyTo().tell(new WorkerProtocol.Rejected(g.requestId(), FailureCode.INVALID_REQUEST, role
          + " engine worker does not prefill ahead: its engine prefills at the takeover, from its own prefix cache"));
      return this;
    }
    if (withdrawnFor != null) {
      refuseWithdrawn(g);
      return this;
    }
    sessions.watch(g);
    drop(g.sessionId());
    if (vocabulary == null) {
      if (StepSync.enqueue(g, scheduler, metrics, role + " engine worker", "tandem." + role + ".")) admitWaiting();
      return this;
    }
    tokenizing.put(g.sessionId(), g.requestId());
    long arrived = System.nanoTime();
    getContext().pipeToSelf(vocabulary.prepare(g, client), (p, error) -> new Tokenized(g, arrived, p, error));
    return this;
  }

  private Behavior<Command> onTokenized(Tokenized t) {
    Generate g = t.g();
    Long current = tokenizing.get(g.sessionId());
    if (current == null || current != g.requestId()) return this; // cancelled or replaced meanwhile
    tokenizing.remove(g.sessionId());
    if (t.error() != null) {
      EngineClient.EngineException e = engineError(t.error());
      // The engine's tokenizer met its closed port: not serving, as for a step (tester47f: a takeover's /tokenize failed
      // every step in flight).
      if (e.notConnected) {
        withdraw(e.getMessage());
        refuseWithdrawn(g);
        return stopIfIdle();
      }
      if (e.lost) return lostEngine(e.getMessage());
      // It answered that it is shutting down: the step goes elsewhere, or waits, as one refused by its completion.
      if (e.shuttingDown) {
        withdraw(e.getMessage());
        g.replyTo().tell(new WorkerProtocol.Rejected(g.requestId(), FailureCode.UNAVAILABLE, e.getMessage()));
        return stopIfIdle();
      }
      g.replyTo().tell(new Failed(g.requestId(), FailureCode.MODEL_ERROR, e.getMessage()));
      return this;
    }
    if (withdrawnFor != null) {
      refuseWithdrawn(g);
      return stopIfIdle();
    }
    prepared.put(g.sessionId(), t.prepared());
    if (StepSync.enqueue(g, t.arrivedNanos(), scheduler, metrics, role + " engine worker", "tandem." + role + ".")) admitWaiting();
    else prepared.remove(g.sessionId());
    return this;
  }

  private Behavior<Command> onCountTokens(WorkerProtocol.CountTokens c) {
    if (vocabulary == null) {
      c.replyTo().tell(StepSync.count(c, model));
    } else {
      // Asked again on the same reply path by an asker on another node that heard nothing yet (WorkerView): the count in
      // progress answers it.
      if (counting.stream().anyMatch(asked -> asked.asked().equals(c.asked()))) return this;
      counting.add(c);
      getContext().pipeToSelf(vocabulary.prepare(c, client), (p, error) -> new Counted(c, p, error));
      // Just before its asker gives up: said by the worker, whose engine's silence it is, rather than left to the asker's
      // timeout, which knew of a stall only once a health check had gone unanswered (tester50e: a count sent as the
      // engine stalled read "counting long prompts", Retry-After 1).
      if (c.timeoutMillis() > 0) {
        java.time.Duration overdue = overdueAfter(c);
        getContext().scheduleOnce(overdue, getContext().getSelf(), new CountOverdue(c, System.nanoTime() + overdue.toNanos()));
      }
    }
    return this;
  }

  private Behavior<Command> onCountOverdue(CountOverdue o) {
    if (!counting.contains(o.c())) return this;
    // Come late, this process was paused (a GC pause, SIGSTOP): an answer that came meanwhile is read in a moment, and
    // is taken, as the asker's own deadline counts only time its process ran (tester50g: a 6 s pause of the front failed
    // counts the engine had answered at 1 s).
    long now = System.nanoTime();
    if (now - o.dueNanos() > LATE.toNanos()) {
      getContext().scheduleOnce(LATE, getContext().getSelf(), new CountOverdue(o.c(), now + LATE.toNanos()));
      return this;
    }
    counting.remove(o.c());
    o.c().replyTo().tell(WorkerProtocol.TokenCount.workerLost("its engine " + client.endpoint() + " has not answered its"
        + " tokenizer's request (/tokenize, /detokenize) for " + io.tandem.protocol.text.Seconds.of(overdueAfter(o.c()))
        + " s (stalled or busy)"));
    return stopIfIdle();
  }

  /** How long after it came the count {@code c} is overdue: just before its asker gives up (a tenth, at most 0.5 s). */
  private static java.time.Duration overdueAfter(WorkerProtocol.CountTokens c) {
    return java.time.Duration.ofMillis(c.timeoutMillis() - Math.min(500, c.timeoutMillis() / 10));
  }

  private Behavior<Command> onCounted(Counted c) {
    // Not asked any more once overdue (its asker was told): what the engine's answer says of the engine still counts.
    boolean asked = counting.remove(c.c());
    if (!asked && c.error() == null) return stopIfIdle();
    WorkerProtocol.CountTokens replyTo = asked ? c.c() : null;
    if (c.error() != null) {
      EngineClient.EngineException e = engineError(c.error());
      // The engine's tokenizer met its closed port: not serving, as for a step; the count's asker is told the worker is
      // lost to it, the steps in flight finish (tester47g: a late request's count failed them).
      if (e.notConnected) {
        withdraw(e.getMessage());
        // Not "its engine was lost" of one finishing its requests (tester48e).
        tell(replyTo, WorkerProtocol.TokenCount.workerLost("its engine does not serve (" + withdrawnFor + ")"));
        return stopIfIdle();
      }
      // A lost engine is no fault of the prompt: not a problem the client would be blamed for, but the
      // worker's loss, told at once (it was no answer, and the asker waited out its count timeout).
      if (e.lost) {
        tell(replyTo, WorkerProtocol.TokenCount.workerLost(lostWords(e.getMessage())));
        return lostEngine(e.getMessage());
      }
      if (e.shuttingDown) {
        withdraw(e.getMessage());
        tell(replyTo, WorkerProtocol.TokenCount.workerLost(e.getMessage()));
        return stopIfIdle();
      }
      tell(replyTo, new WorkerProtocol.TokenCount(0, null, null, model.contextLength(), model.vocabSize(),
          model.name() + " cannot read the prompt: " + e.getMessage(), null));
      return this;
    }
    vocabulary.use(c.prepared());
    try {
      c.c().replyTo().tell(StepSync.count(c.c(), model));
    } finally {
      vocabulary.done();
    }
    return this;
  }

  /** Answers the count {@code c}, unless it is no longer asked (null: told already that it was overdue). */
  private static void tell(WorkerProtocol.CountTokens c, WorkerProtocol.TokenCount answer) {
    if (c != null) c.replyTo().tell(answer);
  }

  /** The engine failure inside a future's failure. */
  private static EngineClient.EngineException engineError(Throwable error) {
    for (Throwable t = error; t != null; t = t.getCause())
      if (t instanceof EngineClient.EngineException e) return e;
    return new EngineClient.EngineException(false, "the engine's tokenizer could not be asked: " + error);
  }

  private void admitWaiting() {
    for (PendingRequest p; (p = scheduler.nextToAdmit()) != null; ) {
      StepSync.Ready ready;
      if (vocabulary == null) {
        ready = StepSync.sync(p.request(), scheduler, model, metrics, getContext().getLog());
      } else {
        vocabulary.use(prepared.remove(p.request().sessionId()));
        try {
          ready = StepSync.sync(p.request(), scheduler, model, metrics, getContext().getLog());
        } finally {
          vocabulary.done();
        }
      }
      if (ready == null) continue; // answered already (resync, failure)
      StepRun step = new StepRun(p, ready, model, metrics, sessions);
      step.cachedAtStart = false;
      if (step.limit() == 0) {
        step.finish();
        continue;
      }
      TokenSequence seq = (TokenSequence) ready.view().sequence;
      step.prefillTokens = seq.length() - seq.processedLength();
      scheduler.start(step);
      send(step, seq);
    }
  }

  private void send(StepRun step, TokenSequence seq) {
    InFlight f = new InFlight(nextRun++, step);
    inFlight.put(f.id, f);
    bySession.put(step.sessionId(), f);
    Generate g = step.request;
    List<String> stop = g.limits().stopAtTrigger() ? g.limits().triggers() : List.of();
    ActorRef<Command> self = getContext().getSelf();
    long run = f.id;
    f.stream = client.complete(EngineClient.CompletionBody.step(modelName, seq.ids(), step.limit(), g.sampling(), stop,
        vocabulary != null, cacheGeneration == 0 ? g.cacheScope() : cacheGeneration + "\u0000" + g.cacheScope()),
        new EngineClient.Listener() {
          @Override
          public void tokens(int[] ids, String text) {
            self.tell(new Streamed(run, ids, text));
          }

          @Override
          public void usage(int promptTokens, int cachedTokens) {
            self.tell(new Used(run, promptTokens, cachedTokens));
          }

          @Override
          public void ended(String finishReason, boolean stopString) {
            self.tell(new Ended(run, finishReason, stopString));
          }

          @Override
          public void failed(boolean lost, String message) {
            self.tell(new Broke(run, lost, message));
          }

          @Override
          public void notConnected(String message) {
            self.tell(new Broke(run, true, FailureCode.MODEL_ERROR, message, true));
          }

          @Override
          public void refused(FailureCode code, String message) {
            self.tell(new Broke(run, false, code, message));
          }
        });
  }

  private Behavior<Command> onStreamed(Streamed s) {
    InFlight f = inFlight.get(s.run());
    if (f == null || f.completeLocally) return this; // cancelled, or complete already
    if (f.firstTokenNanos == 0) f.firstTokenNanos = System.nanoTime();
    if (vocabulary != null && s.ids().length == 0) {
      f.pendingText += s.text();
      return this;
    }
    for (int i = 0; i < s.ids().length; i++) {
      int id = s.ids()[i];
      if (id < 0 || (model.vocabSize() > 0 && id >= model.vocabSize())) {
        return onBroke(new Broke(f.id, false, "the engine returned token id " + id + ", outside the vocabulary of the "
            + "tokenizer folder (vocab_size " + model.vocabSize() + "): does it serve the tokenizer folder's model?"));
      }
      f.step.view().sequence.append(new int[] {id});
      boolean complete;
      if (vocabulary == null) {
        complete = f.step.accept(id);
      } else {
        // The engine's text of the chunk's ids, carried by its last id (the text is whole only
        // with it, so a trigger is matched where the engine matched it): the tokens' texts
        // concatenate to the output's text as the engine decoded it.
        boolean last = i == s.ids().length - 1;
        complete = f.step.accept(id, last ? f.pendingText + s.text() : "");
        if (last) f.pendingText = "";
      }
      if (complete) {
        // Complete by the local rules (EOS, limit, trigger), which the engine was given too: it
        // ends the stream here, with its usage; anything it might send after is not the step's.
        f.completeLocally = true;
        return this;
      }
    }
    return this;
  }

  private Behavior<Command> onUsed(Used u) {
    InFlight f = inFlight.get(u.run());
    if (f != null) f.cachedTokens = u.cachedTokens();
    return this;
  }

  private Behavior<Command> onEnded(Ended e) {
    InFlight f = inFlight.get(e.run());
    if (f == null) return this;
    // The engine stopped before the local rules did: at EOS (finish_reason "stop" without a stop
    // string), or at a stop string whose text the local matcher sees only with the next token.
    if (!f.completeLocally && "stop".equals(e.finishReason()) && !e.stopString()) f.step.eos = true;
    // Ended with no token and not at its end of sequence ("length", "abort", ...): the engine made no progress, and the
    // same step asked again would be answered the same (tester54b: "length" with no token, asked 11,274 times in 340 s).
    // Withdrawn until its health check finds it serving, as an engine found not serving is: the steps after it go to
    // another worker of the role meanwhile, and tandem:engine_up says it (tester54f: such an engine kept failing its share
    // of requests, with nothing to show which one it was).
    if (f.step.generated.isEmpty() && !f.step.eos) {
      String problem = "engine " + client.endpoint() + " ended a step of session " + f.step.sessionId() + " with finish_reason "
          + (e.finishReason() == null ? "null" : "'" + e.finishReason() + "'") + " and no token, though up to "
          + f.step.limit() + " were asked for: it made no progress";
      withdraw(problem, false);
      return onBroke(new Broke(f.id, false, problem));
    }
    complete(f);
    return stopIfIdle();
  }

  private Behavior<Command> onEngineDown(EngineDown d) {
    withdraw(d.problem());
    return stopIfIdle();
  }

  /** Withdraws this worker from its role for {@code problem}, refusing the steps waiting; it stops once nothing of it is in flight. */
  private void withdraw(String problem) {
    withdraw(problem, true);
  }

  /**
   * {@link #withdraw(String)}; {@code byItsPort}: the problem is the engine's port refusing a connection or its health
   * check, which with streams still flowing says something else (below), not an answer of the engine's own.
   */
  private void withdraw(String problem, boolean byItsPort) {
    if (withdrawnFor != null) return;
    // With streams flowing, a closed port is an engine shutting down, not one to ask whether it runs (tester48e read
    // "connection refused (is the engine running, on that port?)" of one finishing its requests). Only streams: a
    // /tokenize or a count in flight fails as well when the engine crashed (tester49d: a SIGKILL read "shutting down").
    // Nor is it told from a crash at once: a SIGKILL closes the port and breaks the streams together, and the refusal
    // may come first (tester51g: 23 of 250 read "shutting down" of a killed engine); a stream that breaks then says so.
    withdrawnFor = inFlight.isEmpty() || !byItsPort ? problem : "engine " + client.endpoint() + " refused a new connection while its"
        + " requests in flight were still streaming: it is shutting down (they run to their end) or it crashed (they fail)";
    // Readiness and a request that finds no worker of the role say so, until the endpoint's health check says otherwise
    // (tester48e: "no large worker is available (none is offered to sessions: retry once one has joined ...)").
    io.tandem.protocol.worker.EngineHealth.get(getContext().getSystem()).report(role, client.endpoint() + "/" + modelName,
        withdrawnFor);
    getContext().getSystem().receptionist().tell(Receptionist.deregister(ServiceKeys.forRole(role), getContext().getSelf()));
    List<PendingRequest> waiting = scheduler.takeAllWaiting();
    for (PendingRequest p : waiting) {
      prepared.remove(p.request().sessionId());
      refuseWithdrawn(p.request());
    }
    getContext().getLog().info("{} engine worker {}: withdrawn from its role, with {} in flight and {} waiting (refused, to go"
        + " to other workers)", role, getContext().getSelf().path().name(), io.tandem.protocol.text.Plural.count(inFlight.size(),
        "step"), waiting.size());
  }

  /**
   * A step this worker, withdrawn, does not take: refused as {@link FailureCode#UNAVAILABLE}, which its session meets as
   * a full queue (another worker, or a wait for room while under way) in its own words: it read "the server is at
   * capacity" ({@code server_overloaded}) of an engine going away (tester48e).
   */
  private void refuseWithdrawn(Generate g) {
    // Words that name the engine already are said as they are ("large engine HOST:PORT refused a new connection ...").
    g.replyTo().tell(new WorkerProtocol.Rejected(g.requestId(), FailureCode.UNAVAILABLE, withdrawnFor.startsWith("engine "
        + client.endpoint() + " ") ? role + " " + withdrawnFor : role + " engine " + client.endpoint() + " does not serve ("
        + withdrawnFor + "): its worker takes no new step"));
  }

  /** Whether anything of this worker is still with its engine (a step streaming, a /tokenize or a count asked). */
  private boolean anythingInFlight() {
    return !inFlight.isEmpty() || !tokenizing.isEmpty() || !counting.isEmpty();
  }

  /** Withdrawn and with nothing left in flight: stops, so that its sessions move on. */
  private Behavior<Command> stopIfIdle() {
    if (withdrawnFor == null || anythingInFlight()) return this;
    getContext().getLog().info("{} engine worker {}: nothing of it in flight any more; stopping", role,
        getContext().getSelf().path().name());
    return Behaviors.stopped();
  }

  private Behavior<Command> onBroke(Broke b) {
    InFlight f = inFlight.get(b.run());
    if (f == null) return this;
    // Its port refused the step (or closed before any answer): the engine never began it, and does not serve now, as
    // the health check would find. Withdrawn, any streams in flight left to end (an engine shutting down gracefully
    // finishes them; one that crashed breaks them), and this step refused to go elsewhere: a lost engine is one that
    // broke a step it had begun (tester47e: a takeover reaching the closed port first failed every step in flight;
    // tester48h: an idle engine's SIGTERM read as an ERROR "lost its engine" and "its engine was lost").
    if (b.notConnected()) {
      forgetRun(f);
      withdraw(b.message());
      scheduler.finish(f.step);
      scheduler.forget(f.step.sessionId());
      refuseWithdrawn(f.step.request);
      return stopIfIdle();
    }
    if (b.lost()) return lostEngine(b.message());
    // It says it is shutting down: withdrawn at once, as its health check would find, so that a later step meeting its
    // closed port is refused too, not taken for a lost engine (tester48f: an ERROR, and a stream failed as "lost").
    if (b.code() == FailureCode.UNAVAILABLE) withdraw(b.message());
    boolean refused = b.code() == FailureCode.QUEUE_FULL || b.code() == FailureCode.UNAVAILABLE;
    if (refused) getContext().getLog().debug("{} engine worker: request {} refused: {}", role,
        f.step.request.requestId(), b.message());
    else getContext().getLog().warn("{} engine worker: request {} failed: {}", role, f.step.request.requestId(), b.message());
    forgetRun(f);
    f.stream.cancel();
    scheduler.finish(f.step);
    scheduler.forget(f.step.sessionId());
    // Beyond the engine's context is the request's length, as a local worker says it (a 400 before
    // anything is written; mid-answer, the output has filled the context): not a model error (tester45b read a 500).
    // An engine busy for now is a full queue, which the session meets as a local one (another worker, or a wait); one
    // shutting down (withdrawn above) refuses as a withdrawn worker does.
    if (refused)
      f.step.request.replyTo().tell(new WorkerProtocol.Rejected(f.step.request.requestId(), b.code(), b.message()));
    else f.step.request.replyTo().tell(new Failed(f.step.request.requestId(), b.code(), b.message()));
    admitWaiting();
    return stopIfIdle();
  }

  /** What a count this worker could not finish is told: it lost its engine for {@code message}. */
  private String lostWords(String message) {
    return "its engine was lost (" + message + ")";
  }

  private Behavior<Command> lostEngine(String message) {
    // The counts still asking the engine's tokenizer would be answered to a stopped worker, never to their askers.
    for (WorkerProtocol.CountTokens c : counting) c.replyTo().tell(WorkerProtocol.TokenCount.workerLost(lostWords(message)));
    counting.clear();
    // A WARN: the engine's failure, not this node's own (tester49d), which its sessions' answers and readiness say too.
    getContext().getLog().warn("{} engine worker {} lost its engine: {}; stopping so that its sessions move on", role,
        getContext().getSelf().path().name(), message);
    // Readiness says why until the endpoint's health check passes again and a fresh worker serves
    // (tester45e: an engine failing every completion while its /v1/models answered read "still starting").
    // Named by its endpoint whatever the words (a stream cut short did not say whose: tester46f).
    String named = message.startsWith("engine " + client.endpoint()) ? message : "engine " + client.endpoint() + ": " + message;
    io.tandem.protocol.worker.EngineHealth.get(getContext().getSystem()).report(role, client.endpoint() + "/" + modelName,
        "its worker lost it mid-request (" + named + "); a fresh worker serves once its health check passes");
    return Behaviors.stopped();
  }

  private void complete(InFlight f) {
    if (!f.pendingText.isEmpty())
      getContext().getLog().warn("{} engine worker: the engine sent text after the last token id of request {}, which no "
          + "token carries: '{}'", role, f.step.request.requestId(), f.pendingText);
    forgetRun(f);
    scheduler.finish(f.step);
    TokenSequence seq = (TokenSequence) f.step.view().sequence;
    // The engine computed the cache of everything but the last token it sampled, as a forward pass does.
    seq.markProcessed(f.step.generated.isEmpty() ? 0 : 1);
    long now = System.nanoTime();
    f.step.computeNanos = now - f.sentNanos;
    // The engine's own count of what it prefilled, when it reports its prefix cache's hits.
    int promptTokens = seq.length() - f.step.generated.size();
    if (f.cachedTokens >= 0) f.step.prefillTokens = Math.max(0, promptTokens - f.cachedTokens);
    f.step.engineCachedTokens = f.cachedTokens;
    long ttft = (f.firstTokenNanos == 0 ? now : f.firstTokenNanos) - f.sentNanos;
    metrics.recordEngineStep(f.step.prefillTokens, f.step.generated.size(), ttft, now - f.sentNanos);
    f.step.finish();
    admitWaiting();
  }

  private void forgetRun(InFlight f) {
    inFlight.remove(f.id);
    bySession.remove(f.step.sessionId(), f);
  }

  private Behavior<Command> release(String sessionId) {
    sessions.released(sessionId);
    drop(sessionId);
    scheduler.retire(sessionId);
    if (drain != null) drain.check();
    return this;
  }

  /** Drops a session's waiting request and cancels its step in flight, if any. */
  private void drop(String sessionId) {
    tokenizing.remove(sessionId);
    prepared.remove(sessionId);
    InFlight f = bySession.remove(sessionId);
    if (f != null) {
      inFlight.remove(f.id);
      f.stream.cancel();
    }
    scheduler.drop(sessionId);
    admitWaiting();
  }

  private Behavior<Command> onGetStats(GetStats g) {
    g.replyTo().tell(metrics.snapshot(getContext().getSelf().path().name(), role.name(), model.name(),
        model.contextLength(), scheduler.waiting(), scheduler.running(), WorkerProtocol.WorkerStats.CACHE_BYTES_UNKNOWN,
        scheduler.sessions(), drain != null && drain.draining(), WorkerProtocol.WorkerStats.CACHE_BYTES_UNKNOWN,
        WorkerProtocol.WorkerStats.CACHE_BYTES_UNKNOWN));
    return this;
  }

  private Behavior<Command> onStop() {
    if (drain != null) drain.stopped();
    // Stopped with counts still at the engine's tokenizer (its endpoint stops it once its health checks go unanswered):
    // said to their askers now, rather than left to their timeouts (tester50e).
    for (WorkerProtocol.CountTokens c : counting)
      c.replyTo().tell(WorkerProtocol.TokenCount.workerLost("its worker stopped before its engine " + client.endpoint()
          + " answered its tokenizer's request (/tokenize, /detokenize) (the engine stalled past its health checks, or the node is stopping)"));
    counting.clear();
    for (InFlight f : inFlight.values()) f.stream.cancel();
    inFlight.clear();
    scheduler.forgetAll();
    return this;
  }
}
