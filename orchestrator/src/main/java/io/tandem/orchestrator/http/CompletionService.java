package io.tandem.orchestrator.http;

import akka.NotUsed;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import akka.http.javadsl.model.ContentTypes;
import akka.http.javadsl.model.HttpEntities;
import akka.http.javadsl.model.HttpResponse;
import akka.http.javadsl.model.MediaTypes;
import akka.http.javadsl.model.headers.RawHeader;
import akka.japi.Pair;
import akka.stream.KillSwitches;
import akka.stream.Materializer;
import akka.stream.OverflowStrategy;
import akka.stream.UniqueKillSwitch;
import akka.stream.javadsl.Keep;
import akka.stream.javadsl.Sink;
import akka.stream.javadsl.Source;
import akka.stream.typed.javadsl.ActorSource;
import akka.util.ByteString;
import io.tandem.orchestrator.session.Mode;
import io.tandem.orchestrator.session.SessionActor;
import io.tandem.orchestrator.session.SessionEvent;
import io.tandem.orchestrator.session.SessionRequest;
import io.tandem.orchestrator.session.Sessions;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.Role;
import io.tandem.protocol.worker.WorkerProtocol.TokenCount;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Runs one admitted completion in four steps: {@link #countPrompt} (a worker counts the prompt's
 * tokens, so {@code max_tokens} is checked against the context as vLLM checks it, before anything
 * is generated), {@link #startSession} (the session's events flow into a stream), then {@link
 * #whole} (the OpenAI object) or {@link #streamed} (SSE chunks). A streamed response waits for the
 * session's first event, so a session refused at once (workers' queues full) is still a 503 and
 * not a broken stream. When the client goes away before the end (its connection closes, streaming
 * or not) the session is cancelled and frees its caches. At the server's shutdown deadline {@link
 * #endAll} ends every request still running as an API answer.
 */
final class CompletionService {

  /** How long the tail of a stream may wait for its response to take it up: the substream's subscription timeout. */
  private static final akka.stream.Attributes TAIL_TAKEN_WITHIN = akka.stream.ActorAttributes.streamSubscriptionTimeout(
      java.time.Duration.ofSeconds(60), akka.stream.StreamSubscriptionTimeoutTerminationMode.cancel());
  private static final int EVENT_BUFFER = 1 << 16;
  /**
   * How many of a stream's outputs may be read ahead of its socket: as many as the session's events, so that a client
   * that stops reading does not stop the reading of the session's output, which its log line, metrics and tenant's
   * charge count (tester60e: with 4,096, a 15,000-token answer nobody read was counted as 10,621 and an abort).
   */
  private static final int OUTPUTS_AHEAD = EVENT_BUFFER;

  private final ActorSystem<?> system;
  private final ActorRef<Sessions.Command> sessions;
  private final HttpSettings settings;
  private final Metrics metrics;
  private final WorkerView workers;
  private final Materializer mat;
  /** What a retryable failure says to wait: longer when no worker of the role is offered. */
  private final RetryAfter retryAfter;
  /** Requests whose session has been asked to start and that have not finished. */
  private final Set<Exchange> running = ConcurrentHashMap.newKeySet();
  /** Why every request is being ended (see {@link #endAll}); null while the server serves. */
  private volatile String endingAll;

  CompletionService(ActorSystem<?> system, ActorRef<Sessions.Command> sessions, HttpSettings settings, Metrics metrics,
      WorkerView workers) {
    this.system = system;
    this.sessions = sessions;
    this.settings = settings;
    this.metrics = metrics;
    this.workers = workers;
    this.mat = Materializer.matFromSystem(system);
    this.retryAfter = RetryAfter.of(settings.retryAfterSeconds(), workers.workerWait());
  }

  /** What a retryable failure of a request says to wait ({@link RetryAfter}), for the routes' own counts too. */
  RetryAfter retryAfter() {
    return retryAfter;
  }

  /** Runs {@code req}; closes {@code permit} when it ends, however it ends. */
  CompletionStage<HttpResponse> run(CompletionRequest req, Tenants.Permit permit, RequestLog.Entry log,
      ClientConnection client) {
    Exchange x = new Exchange(req, permit, log);
    // A client that leaves while its prompt waits to be counted calls the count off.
    CompletableFuture<Void> gone = new CompletableFuture<>();
    Runnable forgetGone = client.onClose(() -> gone.complete(null));
    CompletionStage<Counted> count = countPrompt(req, gone).whenComplete((c, t) -> forgetGone.run());
    // Looked at while the prompt is counted, and again after when it said absent: a count may wait
    // (a stalled small node) while a large node joins, and the session must not act on the first look
    // (tester44b: 6 requests refused "none is offered" a second after a large worker was).
    CompletionStage<Boolean> largeAbsent = count.thenCombine(largeAbsent(req), (counted, absent) -> absent)
        .thenCompose(absent -> absent ? largeAbsent(req) : CompletableFuture.completedFuture(false));
    CompletionStage<HttpResponse> response = count.thenCombine(largeAbsent, (counted, absent) -> {
      x.begin(counted);
      Source<SessionEvent, NotUsed> events = startSession(x, client, absent);
      return req.stream() ? streamed(x, events, client) : whole(x, events);
    }).thenCompose(r -> r);
    return response.whenComplete((r, t) -> {
      if (t == null) return;
      // The server's failure before a session started (a 5xx; not a refusal of the request, a 4xx), for a client still there.
      if (x.gen == null && serverFault(t) && !client.isClosed()) metrics.failedBeforeStart(permit.tenant());
      // For a client gone (its count called off, say), the 499 the routes log: an abort, as one that leaves later.
      x.finish(x.gen == null && serverFault(t) && client.isClosed());
    });
  }

  private static boolean serverFault(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) if (c instanceof ApiError e) return e.status() >= 500;
    return false;
  }

  /**
   * Ends every request still running, and any whose session starts from now on, as a session
   * failure the client may retry elsewhere ({@link FailureCode#UNAVAILABLE}): a stream gets an
   * error event and {@code data: [DONE]} after the text it was sent, a non-streaming request a 503
   * with Retry-After (or its result, when that came first). Their sessions are cancelled. For the
   * server's shutdown deadline, so that no response is cut off mid-write.
   *
   * @param reason what the client reads, e.g. "the server is shutting down"
   */
  void endAll(String reason) {
    endingAll = reason;
    for (Exchange x : running) x.end(reason);
  }

  /** The models a request of {@code mode} runs on. */
  private static Set<Role> roles(Mode mode) {
    return switch (mode) {
      case speculative -> EnumSet.of(Role.small, Role.large);
      case small -> EnumSet.of(Role.small);
      case large -> EnumSet.of(Role.large);
    };
  }

  /**
   * Whether {@code req} is speculative and finds no large worker offered to sessions now, and no
   * large node on its way (a cluster member of role large, joining or up, reachable or not: {@link
   * io.tandem.orchestrator.session.RoleSupply#memberComing}): its session then follows {@code
   * tandem.session.on-large-loss} at once (a retryable 503, or the small model alone, degraded)
   * instead of waiting {@code worker-wait} for one. A large node restarted moments ago is a member
   * before its workers reach this node's receptionist, and one that stalled (unreachable, not downed)
   * may come back; sessions wait for their workers, and stop waiting when the node is removed. When
   * the listing cannot be read, the session looks for itself.
   */
  private CompletionStage<Boolean> largeAbsent(CompletionRequest req) {
    // Mode large needs no look: its large worker reads the prompt, and none listed is a 503 there.
    if (req.mode() != Mode.speculative) return CompletableFuture.completedFuture(false);
    return workers.offered()
        .thenApply(offered -> offered.get(Role.large).isEmpty() && !workers.memberComing(Role.large))
        .exceptionally(t -> false);
  }

  /**
   * A prompt as a worker read it (token ids with their vocabulary and text), its token count, its
   * token ids (the client's, or the worker's reading of a text or chat prompt; null when the worker
   * gave none), and max_tokens.
   */
  private record Counted(Prompt prompt, int promptTokens, List<Integer> promptTokenIds, int maxTokens) {}

  /**
   * Asks a worker of the role that reads the prompt first to count it (and to check a token-id
   * prompt against its vocabulary and decode it, for workers of another vocabulary), checks {@code
   * stop_token_ids} against that vocabulary, then fits {@code max_tokens} to the smallest context
   * of the models the request uses.
   */
  private CompletionStage<Counted> countPrompt(CompletionRequest req, CompletionStage<?> calledOff) {
    Role reader = req.mode() == Mode.large ? Role.large : Role.small;
    // Without a worker of the reader's role, the other model alone may still serve the request.
    Role alone = reader == Role.large ? Role.small : Role.large;
    CompletionStage<TokenCount> count = workers.countTokens(reader, alone, req.prompt(), req.promptTokenIds(),
        req.promptTokenIdsPath(), retryAfter, calledOff);
    return count.thenCombine(workers.contextLength(roles(req.mode())), (c, context) -> {
      if (c.problem() != null)
        throw ApiError.invalid(req.chat() ? "messages" : CompletionRequest.tokenIdsParam(req.promptTokenIdsPath(), req.promptTokenIds(), c.vocabSize()),
            c.problem());
      if (c.tokens() == 0 && !req.chat()) // an empty text whose tokenizer adds no special tokens (vLLM: "The decoder prompt cannot be empty")
        throw ApiError.invalid("prompt", "prompt must not be empty: the model's tokenizer adds no special tokens to an empty text,"
            + " so it is no tokens; give the text to complete");
      // A chat template that only joins the messages' contents, given empty ones (tester44a: a 500 from the forward pass).
      if (c.tokens() == 0)
        throw ApiError.invalid("messages", "the messages render to no tokens: the model's chat template writes nothing of"
            + " them (it adds no role markers, and their content is empty); give a message some text");
      req.checkStopTokenIds(c.vocabSize());
      int max = req.maxTokensWithin(c.tokens(), Math.min(context, c.contextLength()), settings.chatDefaultMaxTokens());
      Prompt prompt = req.promptTokenIds() != null ? Prompt.tokens(req.promptTokenIds(), c.tokenizerKey(), c.text()) : req.prompt();
      return new Counted(prompt, c.tokens(), req.promptTokenIds() != null ? req.promptTokenIds() : c.tokenIds(), max);
    });
  }

  /**
   * Starts the session; its events come out of the returned source, which ends after the last
   * event, or early when the client leaves (the session is then cancelled).
   */
  private Source<SessionEvent, NotUsed> startSession(Exchange x, ClientConnection client, boolean largeAbsent) {
    CompletableFuture<ActorRef<SessionActor.Command>> session = new CompletableFuture<>();
    AtomicBoolean ended = new AtomicBoolean();
    Pair<Pair<ActorRef<SessionEvent>, UniqueKillSwitch>, Source<SessionEvent, NotUsed>> pre =
        ActorSource.<SessionEvent>actorRef(e -> false, e -> Optional.empty(), EVENT_BUFFER, OverflowStrategy.fail())
            .viaMat(KillSwitches.single(), Keep.both())
            .takeWhile(e -> !(e instanceof SessionEvent.Finished || e instanceof SessionEvent.Failed), true)
            .map(e -> {
              if (e instanceof SessionEvent.Delta) x.timing.first(metrics);
              else ended.set(true);
              return e;
            })
            .watchTermination((m, done) -> {
              done.whenComplete((d, t) -> {
                if (!ended.get()) session.thenAccept(s -> s.tell(SessionActor.Cancel.INSTANCE));
              });
              return m;
            })
            .preMaterialize(mat);
    ActorRef<SessionEvent> events = pre.first().first();
    x.forgetClient = client.onClose(pre.first().second()::shutdown);
    x.attach(events, session);
    SessionRequest sr = new SessionRequest(x.sessionId, x.permit.tenant(), x.counted.prompt(), x.req.sampling(),
        x.counted.maxTokens(), x.req.config(), x.req.mode(), true, x.req.stop(), largeAbsent, x.req.engine().cacheSalt());
    askStart(sr, events).whenComplete((s, t) -> {
      if (s != null) session.complete(s.session());
      else events.tell(new SessionEvent.Failed(FailureCode.UNAVAILABLE, "the session did not start: " + t.getMessage(), null));
    });
    return pre.second();
  }

  private CompletionStage<Sessions.Started> askStart(SessionRequest request, ActorRef<SessionEvent> events) {
    return AskPattern.ask(sessions, reply -> new Sessions.Start(request, events, reply), settings.askTimeout(),
        system.scheduler());
  }

  /**
   * Reads events until the output ends (after a stop string, with the session's end: it is told to
   * stop, and ends with its counters), then answers with the OpenAI object or the error (no one to
   * answer when the client left).
   */
  private CompletionStage<HttpResponse> whole(Exchange x, Source<SessionEvent, NotUsed> events) {
    return events.takeWhile(e -> {
      x.onEvent(e);
      return !x.gen.done;
    }).runWith(Sink.ignore(), mat).thenApply(d -> {
      HttpResponse r;
      if (x.gen.failed != null) r = x.respond(x.gen.error());
      else if (x.gen.done) r = x.respond(200, HttpResponse.create().withEntity(ContentTypes.APPLICATION_JSON, Json.write(x.gen.response())));
      else r = x.clientLeft();
      x.finish();
      return r;
    });
  }

  /**
   * Answers with SSE chunks once the first event shows the session got going. The request ends when
   * the body does, or, when the client is gone before akka-http starts writing the body (a
   * connection reset, a request timeout), when its connection closes: that body never runs.
   */
  private CompletionStage<HttpResponse> streamed(Exchange x, Source<SessionEvent, NotUsed> events,
      ClientConnection client) {
    // The tail is a substream the response's entity takes up once akka-http writes it, which Akka allows 5 s by default
    // (akka.stream.materializer.subscription-timeout), counted through a pause of this process: a stream whose first
    // event came just before a SIGSTOP or a long GC pause failed with a 500 or a reset connection (tester51g, 7 s).
    return events.prefixAndTail(1).addAttributes(TAIL_TAKEN_WITHIN).runWith(Sink.head(), mat).thenApply(split -> {
      List<SessionEvent> first = split.first();
      if (!first.isEmpty() && first.get(0) instanceof SessionEvent.Failed f) {
        x.gen.onEvent(f);
        HttpResponse r = x.respond(x.gen.error());
        x.finish();
        return r;
      }
      if (first.isEmpty()) {
        // The events ended before the first: the client left (a half-close, it may still read) before any output.
        HttpResponse r = x.clientLeft();
        x.finish();
        return r;
      }
      // Set by what comes first: akka-http writing the answer (its 200 counts then), or the
      // connection closing before it does (the answer never goes out: a 499 alone).
      AtomicBoolean settled = new AtomicBoolean();
      Source<ByteString, NotUsed> body = Source.from(first).concat(split.second())
          .mapConcat(x::onEvent)
          // Read as the session writes, not as the socket takes them: a client that closed a connection it asked to be
          // closed (Connection: close) is seen as gone only once akka-http cancels the body, a second or so after its
          // writes stopped, and the session's output meanwhile (the whole answer, on the demo pair) was left out of its
          // usage, metrics and tenant's charge though the workers wrote it (tester57b).
          .buffer(OUTPUTS_AHEAD, OverflowStrategy.backpressure())
          // Events that end before the session's end: the client left. One that only half-closed may
          // still read, and learns why its stream ends here (the outputs after a last are never read).
          // concatLazy: concat takes an element of its second source at once, which ran the end (its usage) at the start
          // (tester51f: completion_tokens 0 after text was sent).
          .concatLazy(Source.lazySource(() -> Source.from(x.gen.clientClosed())))
          .takeWhile(o -> !o.last(), true)
          .map(o -> {
            // The request ends before its last line goes out, as a whole answer's does before its body: a client that
            // sends its next request on reading [DONE] found its tenant's slot still held (tester52: 1 in 270 a 429).
            if (o.last()) x.finish();
            return ByteString.fromString("data: " + o.data() + "\n\n");
          })
          .watchTermination((m, done) -> {
            if (settled.compareAndSet(false, true)) x.sent(200);
            done.whenComplete((d, t) -> x.finish());
            return m;
          });
      x.onClientGone(client, () -> {
        if (!settled.compareAndSet(false, true)) return; // the body's end finishes the request
        x.clientLeft();
        x.cancelSession();
        x.finish();
      });
      return HttpResponse.create()
          .addHeader(RawHeader.create("Cache-Control", "no-cache"))
          .addHeader(RawHeader.create("X-Accel-Buffering", "no"))
          .withEntity(HttpEntities.createChunked(ContentTypes.create(MediaTypes.TEXT_EVENT_STREAM), body));
    });
  }

  /** One request in flight: its output, timing, permit and log, and the bookkeeping when it ends. */
  private final class Exchange {
    final CompletionRequest req;
    final Tenants.Permit permit;
    final RequestLog.Entry log;
    final Timing timing = new Timing(System.nanoTime());
    /** The prompt as counted, and the output: set by {@link #begin} once the prompt is counted. */
    Counted counted;
    Generation gen;
    /** Unhooks this request from its connection's close. */
    volatile Runnable forgetClient = () -> {};
    private final AtomicBoolean finished = new AtomicBoolean();
    /** Where the session's events go, and the session once started: set by {@link #attach}. */
    private volatile ActorRef<SessionEvent> events;
    private volatile CompletionStage<ActorRef<SessionActor.Command>> session;
    private boolean toldStop;
    /** The failure {@link #end} ended the output with (the server gave up on the request), null if it did not. */
    private volatile SessionEvent.Failed cut;
    /** The session's id, unique: the response's id unless the client named the request. */
    String sessionId;

    Exchange(CompletionRequest req, Tenants.Permit permit, RequestLog.Entry log) {
      this.req = req;
      this.permit = permit;
      this.log = log;
      log.admitted = true;
      metrics.running.incrementAndGet();
      metrics.waiting.incrementAndGet();
    }

    /** Starts the output, under the id the request was given when it came ({@code log.id}: the client's name for it, or a fresh one). */
    void begin(Counted c) {
      counted = c;
      // A client's request_id names the response, as in vLLM, but two requests may send the same
      // one: the session then goes by a fresh id, which the request's log line names too.
      sessionId = req.requestId() == null ? log.id : ApiRoutes.completionId(req.chat(), RequestLog.freshId());
      log.sessionId = sessionId;
      gen = new Generation(log.id, System.currentTimeMillis() / 1000, req, settings.reasoningParser(), c.promptTokens(),
          c.promptTokenIds(), retryAfter);
    }

    /** The event's output; a stop string that ends it tells the session to stop and report what ran. */
    List<Generation.Out> onEvent(SessionEvent e) {
      int before = gen.tokens();
      List<Generation.Out> out = gen.onEvent(e);
      // The tokens the client gets: not those a stop string cut off, nor those the session wrote before it heard of it.
      if (gen.tokens() > before) timing.sent(gen.tokens() - before, metrics);
      if (gen.cutByStop() && !toldStop) {
        toldStop = true;
        session.thenAccept(s -> s.tell(SessionActor.Stop.INSTANCE));
      }
      return out;
    }

    /** Runs {@code hook} when the client's connection closes before the request finishes (at once if it has). */
    void onClientGone(ClientConnection client, Runnable hook) {
      Runnable forgetSession = forgetClient;
      Runnable forgetHook = client.onClose(hook);
      forgetClient = () -> {
        forgetSession.run();
        forgetHook.run();
      };
    }

    /** Tells the session to stop: nobody reads its output. */
    void cancelSession() {
      session.thenAccept(s -> s.tell(SessionActor.Cancel.INSTANCE));
    }

    /** Registers the request's session as running, and ends it at once when every request is being ended. */
    void attach(ActorRef<SessionEvent> sessionEvents, CompletionStage<ActorRef<SessionActor.Command>> started) {
      events = sessionEvents;
      session = started;
      running.add(this);
      String reason = endingAll;
      if (reason != null) end(reason);
    }

    /**
     * Ends the output with a failure the client reads as {@code reason} (nothing changes once the
     * output has ended: the events after the last are not read), and cancels the session.
     */
    void end(String reason) {
      cut = new SessionEvent.Failed(FailureCode.UNAVAILABLE, reason, null);
      events.tell(cut);
      session.thenAccept(s -> s.tell(SessionActor.Cancel.INSTANCE));
    }

    HttpResponse respond(ApiError e) {
      log.error = e.getMessage();
      return respond(e.status(), e.toResponse());
    }

    /** The events ended before the session did: the client closed its connection, nobody reads this. */
    HttpResponse clientLeft() {
      ApiError e = ApiError.clientClosed();
      log.status = 499;
      log.error = e.getMessage();
      metrics.response(permit.tenant(), 499); // as the request log counts it (nginx's "client closed request")
      return e.toResponse();
    }

    HttpResponse respond(int status, HttpResponse r) {
      sent(status);
      return r;
    }

    /** An answer of {@code status} goes out: the log line and the count of answers say so. */
    void sent(int status) {
      log.status = status;
      metrics.response(permit.tenant(), status);
    }

    /** Once, when the request ends: metrics, the tenant's token budget, the permit, the log line. */
    void finish() {
      finish(false);
    }

    /**
     * Ends the request's accounting; {@code clientLeftBeforeStart}: it ended before its session
     * started because its client left (while its prompt was counted), counted as cancelled and as
     * an {@code abort}, as a request whose client leaves later is.
     */
    void finish(boolean clientLeftBeforeStart) {
      if (!finished.compareAndSet(false, true)) return;
      running.remove(this);
      forgetClient.run();
      timing.leftWaiting(metrics);
      metrics.running.decrementAndGet();
      if (gen == null) {
        // Refused before a session started (the prompt did not fit, no worker to count it), or its
        // client gone: the error's route writes the log line.
        if (clientLeftBeforeStart) {
          metrics.cancelled(permit.tenant());
          metrics.ended(permit.tenant(), Metrics.ABORT, 0, null, new int[io.tandem.protocol.Author.values().length]);
        }
        permit.close();
        return;
      }
      double e2e = (System.nanoTime() - timing.start) / 1e9;
      boolean ok = gen.done && gen.failed == null;
      // The tenant's own limit (its share of a large worker's queue): a 429 as its max-concurrent's is, a refusal and
      // not the server's failure, so not an error on request_success_total (tester46a: 68 such 429s read as errors), and
      // refused before it ran, so no prompt processed either (tester48c: counted in the prompt token series).
      // Once output was sent, though, it is an answer that ended in an error (tester46e: a stream cut after 17 tokens).
      boolean ownLimit = gen.failed != null && gen.failed.code() == io.tandem.protocol.FailureCode.TENANT_QUEUE_FULL
          && !timing.sawFirst;
      // Every request that ran, however it ended, as vLLM records a finished request's token counts.
      if (!ownLimit) {
        metrics.requestPromptTokens.observe(gen.promptTokens);
        metrics.requestGenerationTokens.observe(gen.tokens());
      }
      if (ok) {
        metrics.e2e.observe(e2e);
        metrics.queueTime.observe(gen.queueNanos / 1e9);
        if (timing.sawFirst && gen.tokens() > 1)
          metrics.perOutputToken.observe((timing.last - timing.first) / 1e9 / (gen.tokens() - 1));
      } else if (gen.failed == null) {
        metrics.cancelled(permit.tenant());
      }
      int[] byAuthor = new int[io.tandem.protocol.Author.values().length];
      for (io.tandem.protocol.Author a : io.tandem.protocol.Author.values()) byAuthor[a.ordinal()] = gen.tokensBy(a);
      // Cut at the shutdown deadline: the server gave up on it, as vLLM's engine aborts what is still
      // running when its shutdown timeout passes (FinishReason.ABORT), not a failure of the request.
      String reason = ok ? gen.finishReason : gen.failed != null && !gen.failed.equals(cut) ? Metrics.ERROR : Metrics.ABORT;
      metrics.ended(permit.tenant(), ownLimit ? null : reason, ownLimit ? 0 : gen.promptTokens, ok ? gen.counters() : null,
          byAuthor);
      if (ok && gen.degraded) metrics.degraded();
      permit.addTokens(charged(this, ok));
      permit.close();
      log.finish(gen, gen.failed == null && !ok ? "cancelled" : reason, timing.sawFirst ? (timing.first - timing.start) / 1e6 : -1,
          e2e * 1000);
    }
  }

  /**
   * The tokens a request that ran is charged to its tenant's tokens-per-minute budget: its prompt
   * and output, when it ended as it should or its client left (what was generated for it, as
   * OpenAI bills a stream its client cut); when the server failed it (a lost worker, a full queue,
   * a timeout, the shutdown deadline), only what reached its client: a stream's output sent
   * before its error event, with its prompt, and nothing of an answer replaced by an error object.
   * A tester's overloaded server otherwise turned its own 503s into the tenant's 429s: 18 refused
   * takeovers charged 164 tokens each, not one of them delivered.
   */
  private static long charged(Exchange x, boolean ok) {
    Generation gen = x.gen;
    if (ok || gen.failed == null) return (long) gen.promptTokens + gen.tokens();
    return x.req.stream() && gen.tokens() > 0 ? (long) gen.promptTokens + gen.tokens() : 0;
  }

  /** When output came: for time to first token and the latency between tokens. */
  private static final class Timing {
    final long start;
    volatile boolean sawFirst;
    /** Whether output tokens went to the client yet ({@link #sent}). */
    private boolean sentAny;
    long first;
    long last;
    /** Whether the request has left {@code tandem:num_requests_waiting}: once, by its first output or its end, whichever comes first. */
    private final java.util.concurrent.atomic.AtomicBoolean leftWaiting = new java.util.concurrent.atomic.AtomicBoolean();

    Timing(long start) {
      this.start = start;
    }

    /** The request is no longer waiting (its first output came, or it ended): counted once, whichever thread says it first. */
    void leftWaiting(Metrics metrics) {
      if (leftWaiting.compareAndSet(false, true)) metrics.waiting.decrementAndGet();
    }

    /** The session's first output came (its time to first token), if this is it. */
    void first(Metrics metrics) {
      if (sawFirst) return;
      long now = System.nanoTime();
      sawFirst = true;
      first = now;
      last = now;
      leftWaiting(metrics);
      metrics.ttft.observe((now - start) / 1e9);
    }

    /** {@code nTokens} more output tokens go to the client: the latency between them, spread over them. */
    void sent(int nTokens, Metrics metrics) {
      long now = System.nanoTime();
      if (!sentAny) {
        sentAny = true;
        // The rest of a first delta came at once: no latency to speak of between those tokens.
        for (int i = 1; i < nTokens; i++) metrics.interToken.observe(0);
      } else {
        double each = (now - last) / 1e9 / Math.max(1, nTokens);
        for (int i = 0; i < nTokens; i++) metrics.interToken.observe(each);
      }
      last = now;
    }
  }
}
