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
import akka.stream.Materializer;
import akka.stream.OverflowStrategy;
import akka.stream.javadsl.Sink;
import akka.stream.javadsl.Source;
import akka.stream.typed.javadsl.ActorSource;
import akka.util.ByteString;
import io.tandem.orchestrator.session.SessionActor;
import io.tandem.orchestrator.session.SessionEvent;
import io.tandem.orchestrator.session.SessionRequest;
import io.tandem.orchestrator.session.Sessions;
import io.tandem.protocol.Author;
import io.tandem.protocol.FailureCode;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Runs one completion: starts a session whose events flow into a stream, and answers with the
 * OpenAI object or an SSE stream of chunks. The response waits for the session's first event, so
 * a session refused at once (workers' queues full) is still a 503 and not a broken stream. When
 * the client goes away before the end, the session is cancelled and frees its caches.
 */
final class CompletionService {
  private static final int EVENT_BUFFER = 1 << 16;

  private final ActorSystem<?> system;
  private final ActorRef<Sessions.Command> sessions;
  private final HttpSettings settings;
  private final Metrics metrics;
  private final Materializer mat;

  CompletionService(ActorSystem<?> system, ActorRef<Sessions.Command> sessions, HttpSettings settings, Metrics metrics) {
    this.system = system;
    this.sessions = sessions;
    this.settings = settings;
    this.metrics = metrics;
    this.mat = Materializer.matFromSystem(system);
  }

  /** What a session's failure means to a client. */
  static ApiError errorFor(SessionEvent.Failed f) {
    String m = f.message() == null ? "the generation failed" : f.message();
    if (f.code() == FailureCode.CONTEXT_LENGTH_EXCEEDED)
      return new ApiError(400, "invalid_request_error", "messages", "context_length_exceeded",
          "the prompt is longer than the model's context: " + m, 0);
    if (f.retryable()) return ApiError.overloaded("the server is at capacity: " + m, 1);
    return new ApiError(500, "server_error", null, "generation_failed", "the generation failed: " + m, 0);
  }

  CompletionStage<HttpResponse> run(CompletionRequest req, Tenants.Permit permit, RequestLog.Entry log) {
    String id = (req.chat() ? "chatcmpl-" : "cmpl-") + UUID.randomUUID().toString().replace("-", "");
    log.id = id;
    Generation gen = new Generation(id, System.currentTimeMillis() / 1000, req, settings.reasoningParser());
    long t0 = System.nanoTime();
    Timing timing = new Timing(t0);
    metrics.running.incrementAndGet();
    metrics.waiting.incrementAndGet();
    AtomicBoolean finalized = new AtomicBoolean();
    Runnable finish = () -> {
      if (!finalized.compareAndSet(false, true)) return;
      if (!timing.sawFirst) metrics.waiting.decrementAndGet();
      metrics.running.decrementAndGet();
      double e2e = (System.nanoTime() - t0) / 1e9;
      if (gen.done && gen.failed == null) {
        metrics.e2e.observe(e2e);
        metrics.finished(gen.finishReason, gen.promptTokens, gen.counters());
        if (gen.counters() == null)
          for (Author a : Author.values()) metrics.generated(a.name(), gen.tokensBy(a));
        if (timing.sawFirst && gen.tokens() > 1)
          metrics.perOutputToken.observe((timing.last - timing.first) / 1e9 / (gen.tokens() - 1));
      } else if (gen.failed == null) {
        metrics.cancelled();
      }
      permit.addTokens((long) gen.promptTokens + gen.tokens());
      permit.close();
      log.finish(gen, timing.sawFirst ? (timing.first - t0) / 1e6 : -1, e2e * 1000);
    };

    SessionRequest sr = new SessionRequest(id, permit.tenant(), req.prompt(), req.sampling(), req.maxTokens(),
        req.config(), req.mode(), true);
    AtomicBoolean terminalSeen = new AtomicBoolean();
    CompletableFuture<ActorRef<SessionActor.Command>> sessionRef = new CompletableFuture<>();
    Pair<ActorRef<SessionEvent>, Source<SessionEvent, NotUsed>> pre =
        ActorSource.<SessionEvent>actorRef(e -> false, e -> Optional.empty(), EVENT_BUFFER, OverflowStrategy.fail())
            .takeWhile(e -> !(e instanceof SessionEvent.Finished || e instanceof SessionEvent.Failed), true)
            .map(e -> {
              if (e instanceof SessionEvent.Delta d) timing.delta(d.tokens().size(), metrics);
              else terminalSeen.set(true);
              return e;
            })
            .watchTermination((m, done) -> {
              done.whenComplete((d, t) -> {
                if (!terminalSeen.get()) sessionRef.thenAccept(s -> s.tell(SessionActor.Cancel.INSTANCE));
              });
              return m;
            })
            .preMaterialize(mat);
    AskPattern.<Sessions.Command, Sessions.Started>ask(sessions, reply -> new Sessions.Start(sr, pre.first(), reply),
            Duration.ofSeconds(10), system.scheduler())
        .whenComplete((s, t) -> {
          if (s != null) sessionRef.complete(s.session());
          else pre.first().tell(new SessionEvent.Failed(FailureCode.UNAVAILABLE, "the session did not start: " + t.getMessage(), null));
        });

    if (!req.stream()) {
      return pre.second().runWith(Sink.seq(), mat).thenApply(events -> {
        for (SessionEvent e : events) gen.onEvent(e);
        HttpResponse r;
        if (gen.failed != null) {
          r = respondError(errorFor(gen.failed), log);
        } else {
          log.status = 200;
          metrics.response(200);
          r = HttpResponse.create().withEntity(ContentTypes.APPLICATION_JSON, Json.write(gen.response()));
        }
        finish.run();
        return r;
      });
    }
    return pre.second().prefixAndTail(1).runWith(Sink.head(), mat).thenApply(split -> {
      List<SessionEvent> first = split.first();
      if (!first.isEmpty() && first.get(0) instanceof SessionEvent.Failed f) {
        gen.onEvent(f);
        HttpResponse r = respondError(errorFor(f), log);
        finish.run();
        return r;
      }
      Source<ByteString, NotUsed> body = Source.from(first).concat(split.second())
          .mapConcat(gen::onEvent)
          .takeWhile(o -> !o.last(), true)
          .map(o -> ByteString.fromString("data: " + o.data() + "\n\n"))
          .watchTermination((m, done) -> {
            done.whenComplete((d, t) -> finish.run());
            return m;
          });
      log.status = 200;
      metrics.response(200);
      return HttpResponse.create()
          .addHeader(RawHeader.create("Cache-Control", "no-cache"))
          .addHeader(RawHeader.create("X-Accel-Buffering", "no"))
          .withEntity(HttpEntities.createChunked(
              akka.http.javadsl.model.ContentTypes.create(MediaTypes.TEXT_EVENT_STREAM), body));
    });
  }

  private HttpResponse respondError(ApiError e, RequestLog.Entry log) {
    log.status = e.status();
    log.error = e.getMessage();
    metrics.response(e.status());
    return e.toResponse();
  }

  /** When output came: for time to first token and the latency between tokens. */
  private static final class Timing {
    final long start;
    volatile boolean sawFirst;
    long first;
    long last;

    Timing(long start) {
      this.start = start;
    }

    void delta(int nTokens, Metrics metrics) {
      long now = System.nanoTime();
      if (!sawFirst) {
        sawFirst = true;
        first = now;
        metrics.waiting.decrementAndGet();
        metrics.ttft.observe((now - start) / 1e9);
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
