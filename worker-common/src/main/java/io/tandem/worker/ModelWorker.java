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
import io.tandem.protocol.text.StopStrings;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * The worker actor both roles run: owns one model replica on one device and serves many sessions
 * with continuous batching. Between two forward passes it admits every waiting request its {@link
 * Scheduler} has room for; each request leaves the batch as soon as it hits its stop condition (a
 * trigger, its token budget, EOS).
 *
 * <p>Protocol: {@link Generate}, {@link Cancel}, {@link Release}, {@link GetStats} (see
 * {@link WorkerProtocol}); replies go to each request's {@code replyTo}. The actor talks; the
 * {@link Scheduler} decides what runs; the {@link LanguageModel} computes; {@link SessionView} is
 * the worker half of the delta/position sync. Model calls block, so the worker must run on its own
 * dispatcher ({@value #DISPATCHER}). The role's factory ({@code SmallWorker}, {@code LargeWorker})
 * chooses the admission order.
 */
public final class ModelWorker extends AbstractBehavior<Command> {

  /** Self-message: run one forward pass over the batch. */
  private enum ForwardTick implements Command {
    INSTANCE
  }

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
          ctx.getLog().info("{} worker {} serving {}", role, ctx.getSelf().path().name(), model.name());
          ctx.getSystem().receptionist().tell(Receptionist.register(ServiceKeys.forRole(role), ctx.getSelf()));
          return new ModelWorker(ctx, role, model, settings, queue.get());
        });
  }

  private final Role role;
  private final LanguageModel model;
  private final Scheduler<Active> scheduler;
  private boolean tickPending;
  private final WorkerMetrics metrics = new WorkerMetrics();

  private ModelWorker(
      ActorContext<Command> ctx, Role role, LanguageModel model, WorkerSettings settings, AdmissionQueue queue) {
    super(ctx);
    this.role = role;
    this.model = model;
    this.scheduler = new Scheduler<>(settings, queue);
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Generate.class, this::onGenerate)
        .onMessageEquals(ForwardTick.INSTANCE, this::onForward)
        .onMessage(Cancel.class, this::onCancel)
        .onMessage(Release.class, this::onRelease)
        .onMessage(GetStats.class, this::onGetStats)
        .onMessage(WorkerProtocol.CountTokens.class, this::onCountTokens)
        .onMessageEquals(WorkerProtocol.Stop.INSTANCE, Behaviors::stopped)
        .onSignal(PostStop.class, s -> onStop())
        .build();
  }

  private Behavior<Command> onGenerate(Generate g) {
    metrics.requests++;
    scheduler.drop(g.sessionId());
    if (!scheduler.enqueue(new PendingRequest(g, System.nanoTime()))) {
      metrics.rejected++;
      g.replyTo().tell(new Rejected(g.requestId(), FailureCode.QUEUE_FULL,
          role + " worker queue is full (" + scheduler.waiting() + " waiting)"));
      return this;
    }
    scheduleForward();
    return this;
  }

  private Behavior<Command> onCancel(Cancel c) {
    scheduler.drop(c.sessionId());
    return this;
  }

  private Behavior<Command> onRelease(Release r) {
    scheduler.drop(r.sessionId());
    scheduler.forget(r.sessionId());
    return this;
  }

  private Behavior<Command> onGetStats(GetStats g) {
    g.replyTo().tell(metrics.snapshot(getContext().getSelf().path().name(), role.name(), model.name(),
        model.contextLength(), scheduler.waiting(), scheduler.running(), scheduler.cacheBytes(), scheduler.sessions()));
    return this;
  }

  private Behavior<Command> onCountTokens(WorkerProtocol.CountTokens c) {
    int context = model.contextLength();
    WorkerProtocol.TokenCount answer;
    try {
      if (c.prompt() != null) {
        answer = new WorkerProtocol.TokenCount(promptIds(c.prompt()).length, null, null, context, null);
      } else {
        int[] ids = c.tokenIds().stream().mapToInt(Integer::intValue).toArray();
        String outside = outsideVocabulary(ids);
        answer = outside != null ? new WorkerProtocol.TokenCount(0, null, null, context, outside)
            : new WorkerProtocol.TokenCount(ids.length, model.tokenizer().decode(ids), model.tokenizer().key(), context, null);
      }
    } catch (RuntimeException e) {
      answer = new WorkerProtocol.TokenCount(0, null, null, context, model.name() + " cannot read the prompt: " + e.getMessage());
    }
    c.replyTo().tell(answer);
    return this;
  }

  /** Why a token id is not one of this model's, or null when all are. */
  private String outsideVocabulary(int[] ids) {
    for (int i = 0; i < ids.length; i++)
      if (ids[i] < 0 || (model.vocabSize() > 0 && ids[i] >= model.vocabSize()))
        return "prompt[" + i + "] is token id " + ids[i] + ", outside " + model.name() + "'s vocabulary of "
            + model.vocabSize() + " tokens";
    return null;
  }

  /** The prompt as this model reads it: chat through its template, token ids of its own vocabulary as they are. */
  private int[] promptIds(io.tandem.protocol.Prompt prompt) {
    if (prompt.isChat()) return model.renderChat(prompt.messages());
    if (prompt.tokenIds() != null && prompt.tokenizerKey().equals(model.tokenizer().key()))
      return prompt.tokenIds().stream().mapToInt(Integer::intValue).toArray();
    return model.tokenizer().encode(prompt.raw());
  }

  private Behavior<Command> onStop() {
    scheduler.forgetAll();
    model.close();
    return this;
  }

  private void scheduleForward() {
    if (!tickPending) {
      tickPending = true;
      getContext().getSelf().tell(ForwardTick.INSTANCE);
    }
  }

  private Behavior<Command> onForward() {
    tickPending = false;
    admitWaiting();
    Scheduler.Batch<Active> batch = scheduler.schedule();
    if (batch == null) return this;

    long t0 = System.nanoTime();
    int[] next;
    try {
      next = model.forward(batch.sequences(), batch.maxPrefillTokens());
    } catch (RuntimeException e) {
      getContext().getLog().error("{} forward pass failed for {} sequences", role, batch.sequences().size(), e);
      for (Active a : scheduler.drainRunning()) {
        a.request.replyTo().tell(new Failed(a.request.requestId(), FailureCode.MODEL_ERROR,
            role + " forward pass failed: " + e.getMessage()));
        scheduler.forget(a.sessionId());
      }
      return this;
    }
    long dt = System.nanoTime() - t0;
    metrics.recordStep(batch.sequences().size(), batch.prefillTokens(), dt);

    for (int i = 0; i < next.length; i++) {
      Active a = batch.running().get(i);
      a.computeNanos += dt;
      if (next[i] == LanguageModel.NOT_YET) continue; // still prefilling a long prompt
      if (a.accept(next[i])) {
        scheduler.finish(a);
        a.finish();
      }
    }
    metrics.cacheEvictions += scheduler.evictOverBudget();
    if (scheduler.hasWork()) scheduleForward();
    return this;
  }

  private void admitWaiting() {
    for (PendingRequest p; (p = scheduler.nextToAdmit()) != null; ) {
      Active a = admit(p);
      if (a == null) continue; // answered already (resync, failure)
      if (a.limit == 0) {
        a.finish();
      } else {
        a.prefillTokens = a.view.sequence.length() - a.view.sequence.processedLength();
        scheduler.start(a);
      }
    }
  }

  /** Syncs the session's view to the request; null when the request was answered already. */
  private Active admit(PendingRequest p) {
    Generate g = p.request();
    SessionView view = scheduler.view(g.sessionId());
    int promptTokens = 0;
    try {
      if (g.basePosition() == -1) {
        if (view != null) scheduler.forget(g.sessionId());
        int[] promptIds = promptIds(g.prompt());
        if (promptIds.length >= model.contextLength()) {
          g.replyTo().tell(new Failed(g.requestId(), FailureCode.CONTEXT_LENGTH_EXCEEDED, "the prompt has " + promptIds.length
              + " tokens but " + model.name() + " takes at most " + model.contextLength()));
          return null;
        }
        view = new SessionView(g.sessionId(), model.newSequence(g.sampling()), promptIds);
        scheduler.keep(view);
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
        if (ids.length > limits.maxTotalTokens()) ids = Arrays.copyOf(ids, limits.maxTotalTokens());
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
      scheduler.forget(g.sessionId());
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

  /** One request in the running batch. */
  private final class Active implements Scheduler.Running {
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
    /** Tokens the request brought that this worker had not processed (the sync's unseen part). */
    int prefillTokens;
    long computeNanos;
    boolean eos;
    boolean injectedStreamed;
    /** The triggers this request stops at; null when it does not stop at one. */
    final StopStrings triggers;

    Active(PendingRequest pending, SessionView view, int promptTokens) {
      this.pending = pending;
      this.request = pending.request();
      this.view = view;
      this.promptTokens = promptTokens;
      this.triggers = request.limits().stopAtTrigger() ? new StopStrings(request.limits().triggers()) : null;
    }

    @Override
    public String sessionId() {
      return request.sessionId();
    }

    @Override
    public SessionView view() {
      return view;
    }

    /** Takes the sampled token; true when the request is complete. */
    boolean accept(int id) {
      view.recordOwn(1);
      String t = detok.next(id);
      Token token = new Token(id, t);
      generated.add(token);
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
      return triggers != null && triggers.find(text, t.length()).isPresent();
    }

    void finish() {
      if (request.stream() && !injectedStreamed && !injected.isEmpty()) {
        request.replyTo().tell(new Partial(request.requestId(), List.copyOf(injected), List.of(), model.tokenizer().key()));
      }
      long queued = System.nanoTime() - pending.arrivedNanos() - computeNanos;
      metrics.unseenTokens += prefillTokens;
      metrics.requestsDone++;
      request.replyTo().tell(new Done(request.requestId(), model.tokenizer().key(), List.copyOf(injected),
          List.copyOf(generated), eos, promptTokens, prefillTokens, Math.max(0, queued), computeNanos));
    }
  }
}
