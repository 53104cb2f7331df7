package io.tandem.orchestrator.session;

import akka.actor.typed.ActorRef;
import io.tandem.orchestrator.machine.GenerationPlan;
import io.tandem.orchestrator.machine.Step;
import io.tandem.orchestrator.machine.StepResult;
import io.tandem.protocol.Author;
import io.tandem.protocol.Counters;
import io.tandem.protocol.Role;
import io.tandem.protocol.Span;
import io.tandem.protocol.SpanReason;
import io.tandem.protocol.Token;
import io.tandem.protocol.worker.WorkerProtocol;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * What a session carries across the loss of a worker: which workers it has lost (never asked
 * again, so a late reply from one is never taken), which it has used (to release their caches),
 * and what the lost worker had already streamed of the step in flight. The client may have those
 * tokens already, so they stand: the next worker goes on after them, within what is left of the
 * step, and the step's result is the carried tokens plus the new ones.
 */
final class Failover {
  private final Set<ActorRef<WorkerProtocol.Command>> lost = new HashSet<>();
  private final Set<ActorRef<WorkerProtocol.Command>> used = new HashSet<>();
  private final Set<Role> lostRoles = EnumSet.noneOf(Role.class);
  /** What the worker of the request in flight streamed of it so far. */
  private final List<Token> streamedInjected = new ArrayList<>();
  private final List<Token> streamedGenerated = new ArrayList<>();
  /** What lost workers had streamed of the current step: the next worker continues after it. */
  private final List<Token> carryInjected = new ArrayList<>();
  private final List<Token> carryGenerated = new ArrayList<>();

  /** Workers this session must not use again. */
  Set<ActorRef<WorkerProtocol.Command>> lost() {
    return lost;
  }

  /** Whether this session has lost a worker of {@code role} (then it does not wait for one to register). */
  boolean hasLost(Role role) {
    return lostRoles.contains(role);
  }

  /** A new step begins: nothing is carried. */
  void stepStarted() {
    streamedInjected.clear();
    streamedGenerated.clear();
    carryInjected.clear();
    carryGenerated.clear();
  }

  /** A request of the step goes to {@code worker}. */
  void sent(ActorRef<WorkerProtocol.Command> worker) {
    used.add(worker);
    streamedInjected.clear();
    streamedGenerated.clear();
  }

  /** A request outside the step goes to {@code worker} (a prefill ahead): its cache is released with the others. */
  void used(ActorRef<WorkerProtocol.Command> worker) {
    used.add(worker);
  }

  /** The tokens the worker of the request in flight has streamed of it (injected, then generated). */
  int streamedCount() {
    return streamedInjected.size() + streamedGenerated.size();
  }

  /**
   * The request in flight goes to its worker again (its answer was lost on the way): what it
   * streamed is carried, as from a lost worker, and the worker goes on after it.
   */
  void resend() {
    carryInjected.addAll(streamedInjected);
    carryGenerated.addAll(streamedGenerated);
    streamedInjected.clear();
    streamedGenerated.clear();
  }

  /** The worker of the request in flight streamed these. */
  void streamed(List<Token> injected, List<Token> generated) {
    streamedInjected.addAll(injected);
    streamedGenerated.addAll(generated);
  }

  /**
   * {@code worker} of {@code role} (null: bound for none now) is lost; with {@code inFlight}, the
   * step was on it and what it streamed is carried to the next worker.
   */
  void lose(ActorRef<WorkerProtocol.Command> worker, Role role, boolean inFlight) {
    lost.add(worker);
    used.remove(worker);
    if (role != null) lostRoles.add(role);
    if (inFlight) {
      carryInjected.addAll(streamedInjected);
      carryGenerated.addAll(streamedGenerated);
    }
    streamedInjected.clear();
    streamedGenerated.clear();
  }

  /** The tokens carried into the next request of the step (in the role's vocabulary). */
  List<Token> carried() {
    List<Token> all = new ArrayList<>(carryInjected);
    all.addAll(carryGenerated);
    return all;
  }

  /** The step's limits for the next request: after carried tokens, only what is left of the step. */
  WorkerProtocol.Limits limits(Step.Generate step) {
    int carried = carryInjected.size() + carryGenerated.size();
    return new WorkerProtocol.Limits(carryInjected.isEmpty() ? step.inject() : null,
        Math.max(0, step.maxNewTokens() - carryGenerated.size()), Math.max(0, step.maxTotalTokens() - carried),
        step.stopAtTrigger(), step.triggers());
  }

  /**
   * What the step in flight has streamed so far, as its result (without an eos): what lost workers
   * carried, then what the worker now on it streamed. The output of a step cut short (the
   * request's {@code time_out}).
   */
  StepResult streamedSoFar() {
    List<Token> injected = new ArrayList<>(carryInjected);
    injected.addAll(streamedInjected);
    List<Token> generated = new ArrayList<>(carryGenerated);
    generated.addAll(streamedGenerated);
    return new StepResult(injected, generated, false);
  }

  /** The step's result: what lost workers carried, then what the last one did. */
  StepResult result(WorkerProtocol.Done d) {
    List<Token> injected = new ArrayList<>(carryInjected);
    injected.addAll(d.injected());
    List<Token> generated = new ArrayList<>(carryGenerated);
    generated.addAll(d.generated());
    return new StepResult(injected, generated, d.eos());
  }

  /**
   * The plan that finishes a session that lost the model of {@code lost} during {@code step}: the
   * other model alone from everything committed so far, the lost model's carried part of the step
   * included (the client may have it), with the counters kept. The small model after the large
   * one's loss ({@code on-large-loss = degrade}), the large one after the small one's
   * ({@code on-small-loss = large}).
   */
  GenerationPlan alone(Role lost, GenerationPlan plan, Step.Generate step, int maxTokens) {
    Author wrote = lost == Role.large ? Author.large : Author.small;
    List<Token> committed = new ArrayList<>(plan.committed());
    List<Span> spans = new ArrayList<>(plan.trace().spans());
    Counters c = plan.trace().counters();
    if (!carryInjected.isEmpty()) {
      spans.add(span(Author.injected, step.reason(), committed.size(), carryInjected));
      committed.addAll(carryInjected);
    }
    if (!carryGenerated.isEmpty()) {
      spans.add(span(wrote, step.reason(), committed.size(), carryGenerated));
      committed.addAll(carryGenerated);
    }
    Counters.Tally t = c.tally().tokens(wrote, carryGenerated.size()).tokens(Author.injected, carryInjected.size());
    // A step cut short is still its kind, as its span is (tester54e: takeovers 0 beside 12 tokens of the large model's).
    if (!carryGenerated.isEmpty()) {
      switch (step.reason()) {
        case takeover -> t.takeovers++;
        case verify -> t.verifies++;
        case recap -> t.recaps++;
        default -> { }
      }
    }
    c = t.counters();
    return SingleModelPlan.continuing(lost == Role.large ? Role.small : Role.large, maxTokens, committed, spans, c);
  }

  private static Span span(Author author, SpanReason reason, int start, List<Token> tokens) {
    return new Span(author, reason, start, start + tokens.size(), Token.concat(tokens));
  }

  /** Frees the session's caches on every worker it used that is not lost. */
  void release(String sessionId) {
    for (ActorRef<WorkerProtocol.Command> w : used) w.tell(new WorkerProtocol.Release(sessionId));
    used.clear();
  }
}
