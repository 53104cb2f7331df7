package io.tandem.worker;

import akka.actor.typed.Behavior;
import akka.actor.typed.PostStop;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.receptionist.Receptionist;
import io.tandem.inference.LanguageModel;
import io.tandem.inference.Sequence;
import io.tandem.inference.text.IncrementalDecoder;
import io.tandem.protocol.Chunk;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.Token;
import io.tandem.protocol.worker.WorkerProtocol;
import io.tandem.protocol.worker.WorkerProtocol.Cancel;
import io.tandem.protocol.worker.WorkerProtocol.Command;
import io.tandem.protocol.worker.WorkerProtocol.Done;
import io.tandem.protocol.worker.WorkerProtocol.Failed;
import io.tandem.protocol.worker.WorkerProtocol.Generate;
import io.tandem.protocol.worker.WorkerProtocol.GetStats;
import io.tandem.protocol.worker.WorkerProtocol.Partial;
import io.tandem.protocol.worker.WorkerProtocol.Rejected;
import io.tandem.protocol.worker.WorkerProtocol.Release;
import io.tandem.protocol.worker.WorkerProtocol.Resync;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * A worker actor: owns one model replica on one device and serves many sessions with continuous
 * batching. Between two model steps it admits every waiting request it has room for; each request
 * leaves the batch as soon as it hits its stop condition (a trigger, its token budget, EOS).
 *
 * <p>Protocol: {@link Generate}, {@link Cancel}, {@link Release}, {@link GetStats} (see
 * {@link WorkerProtocol}); replies go to each request's {@code replyTo}. Model calls block, so the
 * worker must run on its own dispatcher ({@code tandem.worker-dispatcher}).
 */
public final class ModelWorker extends AbstractBehavior<Command> {

  /** Self-message: run one model step over the batch. */
  private enum StepTick implements Command {
    INSTANCE
  }

  public static final String DISPATCHER = "tandem.worker-dispatcher";

  /**
   * A worker of {@code role} that opens its model (on its own thread) with {@code modelFactory},
   * then registers with the Receptionist under the role's key.
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
          ctx.getLog().info("{} worker {} serving {}", role, ctx.getSelf().path().name(), model.name());
          ctx.getSystem().receptionist().tell(Receptionist.register(ServiceKeys.forRole(role), ctx.getSelf()));
          return new ModelWorker(ctx, role, model, settings, queue.get());
        });
  }

  private final Role role;
  private final LanguageModel model;
  private final WorkerSettings settings;
  private final AdmissionQueue queue;
  private final Map<String, SessionView> views = new LinkedHashMap<>(16, 0.75f, true);
  private final List<Active> running = new ArrayList<>();
  private boolean tickPending;
  private final WorkerMetrics metrics = new WorkerMetrics();

  private ModelWorker(
      ActorContext<Command> ctx, Role role, LanguageModel model, WorkerSettings settings, AdmissionQueue queue) {
    super(ctx);
    this.role = role;
    this.model = model;
    this.settings = settings;
    this.queue = queue;
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Generate.class, this::onGenerate)
        .onMessageEquals(StepTick.INSTANCE, this::onStep)
        .onMessage(Cancel.class, this::onCancel)
        .onMessage(Release.class, this::onRelease)
        .onMessage(GetStats.class, this::onGetStats)
        .onMessageEquals(WorkerProtocol.Stop.INSTANCE, Behaviors::stopped)
        .onSignal(PostStop.class, s -> onStop())
        .build();
  }

  private Behavior<Command> onGenerate(Generate g) {
    metrics.requests++;
    dropRequestsOf(g.sessionId());
    if (!queue.offer(new PendingRequest(g, System.nanoTime()))) {
      metrics.rejected++;
      g.replyTo()
          .tell(new Rejected(g.requestId(), FailureCode.QUEUE_FULL, role + " worker queue is full (" + queue.size() + " waiting)"));
      return this;
    }
    scheduleStep();
    return this;
  }

  private Behavior<Command> onCancel(Cancel c) {
    dropRequestsOf(c.sessionId());
    return this;
  }

  private Behavior<Command> onRelease(Release r) {
    dropRequestsOf(r.sessionId());
    SessionView v = views.remove(r.sessionId());
    if (v != null) v.close();
    return this;
  }

  private Behavior<Command> onGetStats(GetStats g) {
    g.replyTo().tell(metrics.snapshot(getContext().getSelf().path().name(), role.name(), model.name(),
        model.contextLength(), queue.size(), running.size(), cacheBytes(), views.size()));
    return this;
  }

  private Behavior<Command> onStop() {
    for (SessionView v : views.values()) v.close();
    views.clear();
    model.close();
    return this;
  }

  private void dropRequestsOf(String sessionId) {
    queue.remove(sessionId);
    running.removeIf(a -> a.request.sessionId().equals(sessionId));
  }

  private void scheduleStep() {
    if (!tickPending) {
      tickPending = true;
      getContext().getSelf().tell(StepTick.INSTANCE);
    }
  }

  private Behavior<Command> onStep() {
    tickPending = false;
    admitWaiting();
    if (running.isEmpty()) return this;

    List<Sequence> batch = new ArrayList<>(running.size());
    int prefill = 0;
    for (Active a : running) {
      batch.add(a.view.sequence);
      int unprocessed = a.view.sequence.length() - a.view.sequence.processedLength();
      if (a.prefillTokens < 0) a.prefillTokens = unprocessed;
      prefill += Math.max(0, Math.min(unprocessed, settings.prefillChunk()) - 1);
    }
    long t0 = System.nanoTime();
    int[] next;
    try {
      next = model.forward(batch, settings.prefillChunk());
    } catch (RuntimeException e) {
      getContext().getLog().error("{} model step failed for {} sequences", role, batch.size(), e);
      for (Active a : running) {
        a.request.replyTo().tell(new Failed(a.request.requestId(), FailureCode.MODEL_ERROR, role + " model step failed: " + e.getMessage()));
        SessionView v = views.remove(a.request.sessionId());
        if (v != null) v.close();
      }
      running.clear();
      return this;
    }
    long dt = System.nanoTime() - t0;
    metrics.recordStep(batch.size(), prefill, dt);

    for (Iterator<Active> it = running.iterator(); it.hasNext(); ) {
      Active a = it.next();
      int i = batch.indexOf(a.view.sequence);
      a.computeNanos += dt;
      if (next[i] == LanguageModel.NOT_YET) continue; // still prefilling a long prompt
      if (a.accept(next[i])) {
        it.remove();
        a.finish();
      }
    }
    enforceCacheBudget();
    if (!running.isEmpty() || queue.size() > 0) scheduleStep();
    return this;
  }

  private void admitWaiting() {
    int room = settings.effectiveBatch() - running.size();
    while (room > 0) {
      PendingRequest p = queue.poll();
      if (p == null) return;
      Active a = admit(p);
      if (a != null) {
        if (a.limit == 0) {
          a.finish();
        } else {
          running.add(a);
          room--;
        }
      }
    }
  }

  /** Syncs the session's view to the request; null when the request was answered already. */
  private Active admit(PendingRequest p) {
    Generate g = p.request();
    SessionView view = views.get(g.sessionId());
    int promptTokens = 0;
    try {
      if (g.basePosition() == -1) {
        if (view != null) {
          views.remove(g.sessionId());
          view.close();
        }
        int[] promptIds =
            g.prompt().isChat() ? model.renderChat(g.prompt().messages()) : model.tokenizer().encode(g.prompt().raw());
        if (promptIds.length >= model.contextLength()) {
          g.replyTo().tell(new Failed(g.requestId(), FailureCode.CONTEXT_LENGTH_EXCEEDED, "the prompt has " + promptIds.length
              + " tokens but " + model.name() + " takes at most " + model.contextLength()));
          return null;
        }
        view = new SessionView(g.sessionId(), g.tenant(), model.newSequence(g.sampling()), promptIds);
        views.put(g.sessionId(), view);
        promptTokens = promptIds.length;
        metrics.cacheMisses++;
      } else if (view == null) {
        metrics.cacheMisses++;
        g.replyTo().tell(new Resync(g.requestId(), -1));
        return null;
      } else {
        int have = view.truncateTo(g.basePosition());
        if (have < g.basePosition()) {
          metrics.cacheMisses++;
          g.replyTo().tell(new Resync(g.requestId(), have));
          return null;
        }
        metrics.cacheHits++;
      }
      for (Chunk c : g.append()) view.append(c, model);

      Active a = new Active(p, view, promptTokens);
      WorkerProtocol.Limits limits = g.limits();
      if (limits.inject() != null && !limits.inject().isEmpty()) {
        int[] ids = model.tokenizer().encode(limits.inject());
        if (ids.length > limits.maxTotalTokens()) ids = java.util.Arrays.copyOf(ids, limits.maxTotalTokens());
        a.detok = new IncrementalDecoder(model.tokenizer(), tail(view.sequence, 6));
        view.appendOwn(ids);
        for (int id : ids) a.injected.add(new Token(id, a.detok.next(id)));
      } else {
        a.detok = new IncrementalDecoder(model.tokenizer(), tail(view.sequence, 6));
      }
      a.limit = Math.max(0, Math.min(limits.maxNewTokens(), limits.maxTotalTokens() - a.injected.size()));
      int room = model.contextLength() - view.sequence.length();
      if (a.limit > room) {
        if (room <= 0) {
          g.replyTo().tell(new Failed(g.requestId(), FailureCode.CONTEXT_LENGTH_EXCEEDED, "the session reached " + model.name()
              + "'s context length of " + model.contextLength() + " tokens"));
          return null;
        }
        a.limit = room;
      }
      return a;
    } catch (RuntimeException e) {
      getContext().getLog().warn("{} worker could not admit request {} of session {}", role, g.requestId(), g.sessionId(), e);
      SessionView v = views.remove(g.sessionId());
      if (v != null) v.close();
      g.replyTo().tell(new Failed(g.requestId(), FailureCode.INTERNAL, role + " worker could not take the request: " + e.getMessage()));
      return null;
    }
  }

  private static int[] tail(Sequence s, int n) {
    int from = Math.max(0, s.length() - n);
    int[] out = new int[s.length() - from];
    for (int i = 0; i < out.length; i++) out[i] = s.tokenAt(from + i);
    return out;
  }

  private long cacheBytes() {
    long total = 0;
    for (SessionView v : views.values()) total += v.bytes();
    return total;
  }

  /** Evicts least-recently-used sessions that are not running until the cache fits its budget. */
  private void enforceCacheBudget() {
    long total = cacheBytes();
    if (total <= settings.kvCacheBytes()) return;
    for (Iterator<Map.Entry<String, SessionView>> it = views.entrySet().iterator(); it.hasNext() && total > settings.kvCacheBytes(); ) {
      Map.Entry<String, SessionView> e = it.next();
      boolean busy = false;
      for (Active a : running) if (a.view == e.getValue()) busy = true;
      if (busy) continue;
      total -= e.getValue().bytes();
      e.getValue().close();
      it.remove();
      metrics.cacheEvictions++;
    }
  }

  /** One request in the running batch. */
  private final class Active {
    final PendingRequest pending;
    final Generate request;
    final SessionView view;
    final int promptTokens;
    final List<Token> injected = new ArrayList<>();
    final List<Token> generated = new ArrayList<>();
    final StringBuilder text = new StringBuilder();
    /** Decodes each token in the context of the ones before it (set at admission). */
    IncrementalDecoder detok;
    int limit;
    int prefillTokens = -1;
    long computeNanos;
    boolean eos;
    boolean injectedStreamed;
    final int maxTrigger;

    Active(PendingRequest pending, SessionView view, int promptTokens) {
      this.pending = pending;
      this.request = pending.request();
      this.view = view;
      this.promptTokens = promptTokens;
      int m = 0;
      for (String t : request.limits().triggers()) m = Math.max(m, t.length());
      this.maxTrigger = m;
    }

    /** Takes the sampled token; true when the request is complete. */
    boolean accept(int id) {
      view.recordOwn(1);
      view.lastUsedNanos = System.nanoTime();
      String t = detok.next(id);
      Token token = new Token(id, t);
      generated.add(token);
      int from = Math.max(0, text.length() - maxTrigger + 1);
      text.append(t);
      if (request.stream()) {
        request.replyTo().tell(new Partial(request.requestId(), injectedStreamed ? List.of() : List.copyOf(injected), List.of(token),
            model.tokenizer().key()));
        injectedStreamed = true;
      }
      if (model.eosTokenIds().contains(id)) {
        eos = true;
        return true;
      }
      if (generated.size() >= limit) return true;
      if (request.limits().stopAtTrigger()) {
        for (String trig : request.limits().triggers()) if (text.indexOf(trig, from) >= 0) return true;
      }
      return false;
    }

    void finish() {
      if (request.stream() && !injectedStreamed && !injected.isEmpty()) {
        request.replyTo().tell(new Partial(request.requestId(), List.copyOf(injected), List.of(), model.tokenizer().key()));
      }
      long queued = System.nanoTime() - pending.arrivedNanos() - computeNanos;
      metrics.unseenTokens += Math.max(0, prefillTokens);
      metrics.requestsDone++;
      request.replyTo().tell(new Done(request.requestId(), model.tokenizer().key(), List.copyOf(injected),
          List.copyOf(generated), eos, promptTokens, Math.max(0, prefillTokens), Math.max(0, queued), computeNanos));
    }
  }
}
