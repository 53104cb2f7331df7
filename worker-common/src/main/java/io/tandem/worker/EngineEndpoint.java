package io.tandem.worker;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.PostStop;
import akka.actor.typed.Terminated;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import io.tandem.protocol.Role;
import io.tandem.protocol.worker.WorkerProtocol;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * One remote engine endpoint of a role: loads the model's tokenizer (or, without a tokenizer
 * folder, takes the context length from its spec or from the engine's {@code /v1/models} at the
 * first answer), polls the engine's health
 * ({@code GET /v1/models} every {@code tandem.engine.health-interval}) and keeps an {@link
 * EngineWorker} serving while the engine answers. A worker that lost its engine stops (its
 * sessions move on, as from any lost worker); once the engine answers again a fresh worker
 * registers, so a restarted engine rejoins without restarting the node. The endpoint itself talks
 * to no session.
 *
 * <p>At the first check that finds the engine not serving (the connection refused or closed, an
 * HTTP error, another model) its worker withdraws from the role and stops once its steps in flight
 * have ended ({@link EngineWorker.EngineDown}): an engine shutting down gracefully closes its port
 * and finishes them, and one that crashed breaks them at once, a lost worker either way. An engine
 * that is connected but silent, stalled (a GC pause, SIGSTOP) or too busy to answer, keeps its
 * worker until {@code tandem.engine.health-failure-threshold} checks in a row found it so (as
 * Kubernetes counts a probe's {@code failureThreshold}): its steps in flight go on once it runs
 * again, as a cluster node's do after a stall shorter than its failure detector's pause; past the
 * threshold its worker stops at once.
 */
public final class EngineEndpoint {

  /** What the endpoint is told: its own poll results and timer. */
  public interface Message {}

  private enum Poll implements Message {
    INSTANCE
  }

  private record Health(String problem, int maxModelLen, boolean unanswered) implements Message {}

  private record WorkerStopped(ActorRef<WorkerProtocol.Command> worker) implements Message {}

  /**
   * An endpoint of {@code role} for the engine {@code spec}; {@code queue} makes each worker's
   * admission queue (the role's order), {@code loaded} completes with the model's name once its
   * tokenizer is loaded (at once without a tokenizer folder), or with the error that kept it from
   * loading (the endpoint then stops).
   * {@code spec.maxConcurrency()} (when set) replaces {@code settings.maxBatch()} as the most
   * requests in flight.
   */
  public static Behavior<Message> create(Role role, EngineSpec spec, WorkerSettings settings, EngineSettings engine,
      Supplier<AdmissionQueue> queue, CompletableFuture<String> loaded) {
    return Behaviors.setup(ctx -> {
      EngineModel model;
      try {
        model = spec.localTokenizer() ? EngineModel.open(spec) : null;
      } catch (RuntimeException e) {
        ctx.getLog().error("{} engine {}: {}", role, spec.endpoint(), e.getMessage());
        loaded.completeExceptionally(e);
        return Behaviors.stopped();
      }
      loaded.complete(EngineModel.name(spec));
      WorkerSettings workerSettings = spec.maxConcurrency() == 0 ? settings : new WorkerSettings(spec.maxConcurrency(),
          settings.queueLimit(), settings.kvCacheBytes(), true, settings.prefillChunk(), settings.prefixCacheSequences(),
          settings.maxNumBatchedTokens());
      EngineClient client = new EngineClient(spec, engine);
      return Behaviors.withTimers(timers -> {
        timers.startTimerWithFixedDelay(Poll.INSTANCE, engine.healthInterval());
        ctx.getSelf().tell(Poll.INSTANCE);
        return new State(ctx, role, spec, model, client, workerSettings, engine, queue).behavior();
      });
    });
  }

  /**
   * Asks the engine {@code spec} once whether it serves its model ({@code GET /v1/models}, within
   * {@code tandem.engine.health-timeout}), as the endpoint's polls do: completes with null when it
   * does, else with what is wrong (unreachable, an HTTP status, another model). For a one-off run
   * that should name an engine that does not answer rather than wait for a worker.
   */
  public static CompletableFuture<String> health(EngineSpec spec, EngineSettings engine) {
    return new EngineClient(spec, engine).health().thenApply(h -> h.problem() != null ? h.problem()
        : !spec.localTokenizer() && spec.maxModelLen() == 0 && h.maxModelLen() == 0 ? noContext(spec) : null);
  }

  /** What an engine without a tokenizer folder here lacks when it lists no context for its model, and what to do. */
  static String noContext(EngineSpec spec) {
    return "engine " + spec.endpoint() + " lists no max_model_len for '" + spec.model()
        + "' in its /v1/models; add max-model-len=N to its spec";
  }

  private static final class State {
    final Role role;
    final EngineSpec spec;
    /** The model the next worker serves, at the context last decided; null before the engine first answers. */
    EngineModel model;
    /** The tokenizer folder's model, at its own context; null without a folder. */
    final EngineModel folder;
    /** The context taken below the spec's or the folder's for the engine's listing (0: none), said once each time it changes. */
    int cappedAt;
    final EngineClient client;
    final WorkerSettings settings;
    final EngineSettings engine;
    final Supplier<AdmissionQueue> queue;
    final ActorContext<Message> ctx;
    ActorRef<WorkerProtocol.Command> worker;
    int generation;
    boolean polling;
    String lastProblem;
    /** Health checks in a row the engine did not answer in time while its worker served. */
    int unanswered;
    /**
     * The worker withdrawn while its engine finishes its steps ({@link EngineWorker.EngineDown}); no
     * fresh one serves before it has stopped: a draining engine still answers on a kept-alive
     * connection, and a fresh worker's steps met its closed port (tester47f: a flapping worker).
     */
    ActorRef<WorkerProtocol.Command> draining;

    State(ActorContext<Message> ctx, Role role, EngineSpec spec, EngineModel model, EngineClient client,
        WorkerSettings settings, EngineSettings engine, Supplier<AdmissionQueue> queue) {
      this.ctx = ctx;
      this.role = role;
      this.spec = spec;
      this.folder = model;
      this.client = client;
      this.settings = settings;
      this.engine = engine;
      this.queue = queue;
    }

    Behavior<Message> behavior() {
      return Behaviors.receive(Message.class)
          .onMessageEquals(Poll.INSTANCE, () -> poll())
          .onMessage(Health.class, this::onHealth)
          .onMessage(WorkerStopped.class, w -> {
            if (w.worker().equals(worker)) worker = null;
            if (w.worker().equals(draining)) draining = null;
            return Behaviors.same();
          })
          .onSignal(PostStop.class, s -> {
            io.tandem.protocol.worker.EngineHealth.get(ctx.getSystem()).forget(role, spec.endpoint() + "/" + spec.model());
            // One tokenizer, whichever context its copies were given.
            if (folder != null) folder.close();
            else if (model != null) model.close();
            return Behaviors.same();
          })
          .build();
    }

    private Behavior<Message> poll() {
      if (polling) return Behaviors.same();
      polling = true;
      ctx.pipeToSelf(client.health(), (h, error) -> error != null ? new Health(error.toString(), 0, false)
          : new Health(h.problem(), h.maxModelLen(), h.unanswered()));
      return Behaviors.same();
    }

    private Behavior<Message> onHealth(Health answer) {
      polling = false;
      Health h = answer;
      var health = io.tandem.protocol.worker.EngineHealth.get(ctx.getSystem());
      if (h.unanswered() && worker != null && ++unanswered < engine.healthFailureThreshold()) {
        health.silent(role, spec.endpoint() + "/" + spec.model(), "this node's " + role + " engine " + spec.endpoint()
            + " did not answer its last health check within tandem.engine.health-timeout (stalled or busy)");
        if (unanswered == 1)
          ctx.getLog().warn("{} engine {} did not answer its health check within tandem.engine.health-timeout ({} s): stalled or"
              + " busy; its worker goes on serving, and is withdrawn after {} such checks in a row"
              + " (tandem.engine.health-failure-threshold)", role, spec.endpoint(),
              io.tandem.protocol.text.Seconds.of(engine.healthTimeout()), engine.healthFailureThreshold());
        return Behaviors.same();
      }
      health.silent(role, spec.endpoint() + "/" + spec.model(), null);
      if (unanswered > 0 && h.problem() == null)
        ctx.getLog().info("{} engine {} answers its health check again, after {} without an answer", role, spec.endpoint(),
            unanswered);
      unanswered = 0;
      if (h.problem() == null && worker == null && draining != null) return Behaviors.same();
      if (h.problem() == null && worker == null) {
        // The context of the worker about to serve: the spec's max-model-len, or the tokenizer folder's,
        // or (without either) what the engine lists; and never more than the engine lists now, which
        // refuses requests beyond its own (vLLM's --max-model-len below the model's 32k, a spec's
        // max-model-len above the engine's): counted against the larger here, such a request reached
        // the engine and came back a 500 (tester45b). Taken anew at each worker, so that it follows an
        // engine restarted with another max_model_len (tester45e).
        int own = spec.maxModelLen() > 0 ? spec.maxModelLen() : folder != null ? folder.contextLength() : 0;
        int listed = h.maxModelLen();
        int context = own == 0 ? listed : listed > 0 ? Math.min(own, listed) : own;
        if (context == 0) {
          h = new Health(noContext(spec), 0, false);
        } else {
          if (context < own && context != cappedAt)
            ctx.getLog().warn("{} engine {}: it lists max_model_len {} for '{}', below the {} tokens {}; the engine refuses"
                + " requests beyond its own, so this worker takes {} as the context", role, spec.endpoint(), listed,
                spec.model(), own, spec.maxModelLen() > 0 ? "of the spec's max-model-len"
                    : "of the tokenizer folder's config.json", listed);
          cappedAt = context < own ? context : 0;
          if (model == null || model.contextLength() != context)
            model = folder != null ? folder.withContextLength(context) : EngineModel.remote(spec, context);
        }
      }
      // Its port closed while a withdrawn worker still finishes its steps: an engine shutting down, not one to ask whether it
      // runs (tester48f: readiness and every refusal read "is the engine running?" through a drain).
      String problem = h.problem() != null && !h.unanswered() && draining != null ? "engine " + spec.endpoint() + " is shutting"
          + " down: its worker finishes the requests in flight and takes no new one" : h.problem();
      io.tandem.protocol.worker.EngineHealth.get(ctx.getSystem()).report(role, spec.endpoint() + "/" + spec.model(), problem);
      if (h.problem() == null) {
        if (lastProblem != null) ctx.getLog().info("{} engine {} answers again", role, spec.endpoint());
        lastProblem = null;
        if (worker == null) {
          // Named after its endpoint (the node names each endpoint's actor by its index and address): /metrics labels a
          // worker by its name, and two endpoints' workers both named small-engine-1 gave repeated series (tester46d).
          // The same name for each fresh worker, so that its series go on across an engine's restart (tester46f), unless
          // the one before is not gone yet.
          var behavior = EngineWorker.create(role, model, client, spec.model(), settings, queue.get());
          try {
            worker = ctx.spawn(behavior, ctx.getSelf().path().name() + "-worker");
          } catch (akka.actor.InvalidActorNameException taken) {
            worker = ctx.spawn(behavior, ctx.getSelf().path().name() + "-worker-" + (++generation));
          }
          ctx.watchWith(worker, new WorkerStopped(worker));
          ctx.getLog().info("{} worker {} serving {}", role, worker.path().name(), model.name());
        }
      } else {
        // What follows for its worker, in words (tester47d: "its sessions move to other workers" at a start, with none).
        if (!h.problem().equals(lastProblem))
          ctx.getLog().warn("{} engine {}: {}; {}", role, spec.endpoint(), h.problem(), worker == null
              ? "no worker serves it until it answers" : h.unanswered() ? "its worker stops, and its sessions move to other workers"
              : "its worker takes no new step, and stops once its steps in flight have ended");
        lastProblem = h.problem();
        // Silent past the threshold: its streams are stalled too, and its sessions see it terminate, a lost worker. An
        // answer that it does not serve (a refused connection, an error): it may be shutting down gracefully, finishing
        // its streams in flight, which the worker lets end before it stops (tester47d).
        if (worker != null && h.unanswered()) ctx.stop(worker);
        else if (worker != null) {
          worker.tell(new EngineWorker.EngineDown(h.problem()));
          draining = worker;
        }
        worker = null;
      }
      return Behaviors.same();
    }
  }

  private EngineEndpoint() {}
}
