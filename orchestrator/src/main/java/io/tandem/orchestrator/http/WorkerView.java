package io.tandem.orchestrator.http;

import akka.actor.Address;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.receptionist.Receptionist;
import akka.cluster.ClusterEvent;
import akka.cluster.Member;
import akka.cluster.MemberStatus;
import akka.cluster.typed.Cluster;
import io.tandem.orchestrator.session.NoWorkerLog;
import io.tandem.orchestrator.session.NodeStanding;
import io.tandem.orchestrator.session.RoleSupply;
import io.tandem.orchestrator.session.RunningClock;
import io.tandem.orchestrator.session.SessionActor;
import io.tandem.orchestrator.session.Sessions;
import io.tandem.orchestrator.session.WorkerDirectory;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.text.Seconds;
import io.tandem.protocol.worker.WorkerProtocol;
import io.tandem.protocol.worker.WorkerProtocol.TokenCount;
import io.tandem.protocol.worker.WorkerProtocol.WorkerStats;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the HTTP layer knows of the workers: who is listed per role (readiness), their figures
 * (metrics, and each role's smallest context length), and a prompt's token count as a worker's
 * model reads it. Each is an ask, bounded by {@code tandem.http.worker-figures-timeout} (figures),
 * {@code count-timeout} (counting) or {@code ask-timeout} (the receptionist's listing); waiting for a
 * worker of a role on its way, by {@code tandem.session.worker-wait}, as a session waits.
 */
final class WorkerView {
  private static final Logger LOG = LoggerFactory.getLogger(WorkerView.class);
  private final ActorSystem<?> system;
  private final Duration ask;
  private final Duration countTimeout;
  private final Duration figuresMaxAge;
  private final Duration figuresTimeout;
  private static final long NEVER = Long.MIN_VALUE;
  private volatile Figures figures = new Figures(Map.of(), NEVER);
  private final AtomicBoolean refreshing = new AtomicBoolean();
  private final RoleSupply supply;
  private final ActorRef<Sessions.Command> sessions;
  private final Duration workerWait;
  private final Duration askAgainAfter;
  /** Asks of the receptionist not yet answered ({@link #cutOff}). */
  private final Set<CompletableFuture<Receptionist.Listing>> unanswered = java.util.concurrent.ConcurrentHashMap.newKeySet();
  /** Each count not yet answered: ends it, saying so, when this node runs again after a pause past downing. */
  private final Set<Runnable> countsAfterPause = java.util.concurrent.ConcurrentHashMap.newKeySet();
  /** What every ask of the receptionist fails with once this node was downed; null before. */
  private volatile ApiError cutOff;

  /**
   * {@code askAgainAfter}: how long a worker of another node may be silent about a count before it is
   * asked again ({@code tandem.session.step-check-interval}, as a session asks about its step).
   */
  WorkerView(ActorSystem<?> system, ActorRef<Sessions.Command> sessions, Duration workerWait, Duration askAgainAfter,
      Duration askTimeout, Duration countTimeout, Duration figuresTimeout, Duration figuresMaxAge) {
    this.system = system;
    this.sessions = sessions;
    this.workerWait = workerWait;
    this.askAgainAfter = askAgainAfter;
    this.ask = askTimeout;
    this.countTimeout = countTimeout;
    this.figuresTimeout = figuresTimeout;
    this.figuresMaxAge = figuresMaxAge;
    this.supply = RoleSupply.get(system);
    // Back from a pause the other nodes most likely downed this one for, a count of a prompt ends at once, as the
    // sessions in flight do (tester51d: one asked before a 20 s SIGSTOP waited out its 5 s after it).
    if (supply.clustered())
      io.tandem.orchestrator.session.PauseWatch.get(system).onPause(() -> countsAfterPause.forEach(Runnable::run));
  }

  /** The workers listed now, per role: those on nodes the receptionist finds reachable. */
  CompletionStage<Map<Role, Set<ActorRef<WorkerProtocol.Command>>>> listing() {
    return listings().thenApply(WorkerView::reachable);
  }

  /** The receptionist's listing of each role now. */
  private CompletionStage<Map<Role, Receptionist.Listing>> listings() {
    List<CompletableFuture<Receptionist.Listing>> asks = new ArrayList<>();
    for (Role r : Role.values()) asks.add(find(r).toCompletableFuture());
    return CompletableFuture.allOf(asks.toArray(CompletableFuture[]::new)).thenApply(v -> {
      Map<Role, Receptionist.Listing> out = new EnumMap<>(Role.class);
      for (Role r : Role.values()) out.put(r, asks.get(r.ordinal()).join());
      return out;
    });
  }

  private static Map<Role, Set<ActorRef<WorkerProtocol.Command>>> reachable(Map<Role, Receptionist.Listing> listings) {
    Map<Role, Set<ActorRef<WorkerProtocol.Command>>> out = new EnumMap<>(Role.class);
    listings.forEach((r, l) -> out.put(r, l.getServiceInstances(ServiceKeys.forRole(r))));
    return out;
  }

  /** Whether no worker of {@code role} can ever be offered here, as sessions decide it ({@link RoleSupply}). */
  boolean neverOffered(Role role) {
    return !supply.canCome(role);
  }

  /** Whether this node is in a cluster (workers may join from other nodes), not a node on its own. */
  boolean inCluster() {
    return supply.clustered();
  }

  /** Whether a cluster member of {@code role} is on its way, unreachable ones included: {@link RoleSupply#memberComing}. */
  boolean memberComing(Role role) {
    return supply.memberComing(system, role);
  }

  /**
   * What this node's remote engines of {@code role} last found wrong, in words, or null: {@link
   * io.tandem.protocol.worker.EngineHealth}.
   */
  String engineProblems(Role role) {
    return io.tandem.protocol.worker.EngineHealth.get(system).problems(role);
  }

  /** How a cluster member of {@code role} is on its way, in words, or null: {@link RoleSupply#comingAs}. */
  String comingAs(Role role) {
    return supply.comingAs(system, role);
  }

  /**
   * The workers sessions may be given now, per role: those listed whose node is a cluster member up
   * (or weakly up) and reachable, as the session directory ({@code WorkerDirectory}) offers them; on
   * a node outside a cluster, every one listed. A worker on a node still joining is listed by the
   * receptionist before its sessions could use it, so readiness counts these instead.
   */
  CompletionStage<Map<Role, Set<ActorRef<WorkerProtocol.Command>>>> offered() {
    return listing().thenApply(this::offered);
  }

  private Map<Role, Set<ActorRef<WorkerProtocol.Command>>> offered(Map<Role, Set<ActorRef<WorkerProtocol.Command>>> listed) {
    if (!supply.clustered()) return listed;
    ClusterEvent.CurrentClusterState state = Cluster.get(system).state();
    Set<Address> usable = new HashSet<>();
    for (Member m : state.getMembers())
      if (m.status().equals(MemberStatus.up()) || m.status().equals(MemberStatus.weaklyUp())) usable.add(m.address());
    for (Member m : state.getUnreachable()) usable.remove(m.address());
    Map<Role, Set<ActorRef<WorkerProtocol.Command>>> out = new EnumMap<>(Role.class);
    for (Map.Entry<Role, Set<ActorRef<WorkerProtocol.Command>>> e : listed.entrySet()) {
      Set<ActorRef<WorkerProtocol.Command>> ws = new HashSet<>();
      for (ActorRef<WorkerProtocol.Command> w : e.getValue()) {
        Address a = w.path().address();
        if (a.hasLocalScope() || usable.contains(a)) ws.add(w);
      }
      out.put(e.getKey(), Set.copyOf(ws));
    }
    return out;
  }

  /** {@code tandem.session.worker-wait}: how long a request waits for a worker of its role that is coming. */
  Duration workerWait() {
    return workerWait;
  }

  private CompletionStage<Receptionist.Listing> find(Role role) {
    ApiError gone = cutOff;
    if (gone != null) return CompletableFuture.failedFuture(gone);
    CompletableFuture<Receptionist.Listing> listing = new CompletableFuture<>();
    unanswered.add(listing);
    AskPattern.ask(system.receptionist(), (ActorRef<Receptionist.Listing> reply) -> Receptionist.find(ServiceKeys.forRole(role),
        reply), ask, system.scheduler()).whenComplete((l, t) -> {
          unanswered.remove(listing);
          if (t != null) listing.completeExceptionally(t);
          else listing.complete(l);
        });
    if (cutOff != null) listing.completeExceptionally(cutOff);
    return listing;
  }

  /**
   * This node was downed: each request still waiting for the receptionist, which on a node the
   * cluster removed no longer answers, fails now with {@code error}, and so does every later one
   * (tester48a: three requests received as the node learnt it was downed waited out the 10 s ask,
   * then read "the server is shutting down").
   */
  void cutOff(ApiError error) {
    cutOff = error;
    for (CompletableFuture<Receptionist.Listing> l : unanswered) l.completeExceptionally(error);
  }

  /**
   * No worker of {@code role} is listed: a 503 that never clears when none can ever be offered here
   * ({@link #neverOffered}), else a retryable one. The message says what to do, in the words a
   * session uses ({@link SessionActor#noWorkerMessage}); {@code alone} is left out of it when no
   * worker of that role can come either. Logged as a session failing for want of a worker is
   * ({@link NoWorkerLog}).
   */
  private ApiError noneListed(Role role, Role alone, RetryAfter retryAfter) {
    return noneListed(role, alone, retryAfter, null);
  }

  /** {@link #noneListed(Role, Role, RetryAfter)} after the request {@code waited} for one (null: it did not), as its message says. */
  private ApiError noneListed(Role role, Role alone, RetryAfter retryAfter, Duration waited) {
    String outOfTouch = NodeStanding.outOfTouch(system);
    // Not the role's outage (NoWorkerLog), nor one another mode avoids: this node's own.
    if (outOfTouch != null) {
      String message = outOfTouch + ", so no " + role + " worker can be reached from it; retry the request (on a node still in"
          + " the cluster, or on this one once it has restarted)";
      LOG.debug("a request was refused before its session started: {}", message);
      return ownOutage(message, retryAfter);
    }
    boolean canJoin = !neverOffered(role);
    // The other model alone is advice only where its engines here serve (tester46f: both roles' engines down, each 503
    // sent the client to the other mode).
    boolean aloneCan = alone != null && !neverOffered(alone) && engineProblems(alone) == null;
    String message = SessionActor.noWorkerMessage(role, canJoin, aloneCan ? alone : null, waited);
    // Where the role's workers are this node's engines, what their health check found, as readiness says it (tester46d:
    // "retry once one has joined" of an engine that was down).
    String engines = io.tandem.protocol.worker.EngineHealth.get(system).notServing(role);
    if (engines != null) message += "; this node's " + role + " " + engines;
    String line = "a request was refused before its session started: " + message;
    LOG.debug(line);
    NoWorkerLog.get(system).unserved(role, false, line);
    FailureCode code = canJoin ? FailureCode.NO_WORKER : FailureCode.ROLE_NOT_SERVED;
    return ApiError.forFailure(code, message, retryAfter.forCode(code));
  }

  /** Why this node is out of the cluster's reach, or null: {@link NodeStanding#outOfTouch}. */
  String outOfTouch() {
    return NodeStanding.outOfTouch(system);
  }

  /**
   * The 503 of an ask of this node's actors that timed out (or asked one already stopped): this
   * node's own outage when it is out of the cluster's reach ({@link NodeStanding#outOfTouch}: a
   * node downed stops its receptionist while its port still answers), else {@code the server did not
   * answer in time} (tester44b read that beside "shutting down" for one cause).
   */
  ApiError unanswered(RetryAfter retryAfter) {
    String outOfTouch = NodeStanding.outOfTouch(system);
    if (outOfTouch != null)
      return ownOutage(outOfTouch + "; retry the request (on a node still in the cluster, or on this one once it has restarted)",
          retryAfter);
    return ApiError.forFailure(FailureCode.UNAVAILABLE, "the server did not answer in time", retryAfter.seconds());
  }

  /**
   * A request refused because this node itself is out of the cluster's reach ({@link
   * NodeStanding#outOfTouch}: downed, leaving, or cut off): the server refusing work as it shuts
   * down ({@link FailureCode#UNAVAILABLE}), with the general {@code Retry-After}, as its sessions in
   * flight are told when the same happens to them; not {@link FailureCode#NO_WORKER}'s worker-wait,
   * which is for a role's outage that a worker's (re)start clears (tester42b: 10 s for new requests,
   * 1 s for those in flight, for one cause).
   */
  private static ApiError ownOutage(String message, RetryAfter retryAfter) {
    return ApiError.forFailure(FailureCode.UNAVAILABLE, message, retryAfter.seconds());
  }

  /**
   * A worker as a scrape of {@code /metrics} finds it: its role, the node it runs on ({@code
   * host:port} of its cluster address; {@code local} on a node outside a cluster), its name there,
   * its figures, null when it gave none, and whether it is {@code draining}: it withdrew from the
   * Receptionist, its node stopping, and still serves the sessions bound to it (see {@link #scrape}).
   */
  record Report(Role role, String node, String worker, WorkerStats stats, boolean draining) {
    Report(Role role, String node, String worker, WorkerStats stats) {
      this(role, node, worker, stats, false);
    }
  }

  /** What a scrape of {@code /metrics} shows of the workers: each listed one, and how many of each role sessions can be given ({@link #offered}). */
  /**
   * @param engines per role, the remote-engine endpoints this node runs and whether each engine serves
   *     ({@link io.tandem.protocol.worker.EngineHealth#serving})
   */
  record Scrape(List<Report> workers, Map<Role, Integer> offered, Map<Role, java.util.SortedMap<String, Boolean>> engines) {
    Scrape(List<Report> workers, Map<Role, Integer> offered) {
      this(workers, offered, Map.of());
    }
  }

  /**
   * Every worker the receptionist lists, those on nodes the cluster finds unreachable included (until
   * their node is removed from the cluster), and every one draining ({@link
   * WorkerDirectory.Withdrawn}: it withdrew as its node began to stop, and serves the sessions bound
   * to it until its node leaves), with the figures of those that give them: a worker on an
   * unreachable node is not asked, and one that does not answer within {@code
   * tandem.http.worker-figures-timeout} (lost before the failure detector noticed; a worker answers
   * during a model step) is reported without figures, so that a scrape never waits longer.
   */
  CompletionStage<Scrape> scrape() {
    CompletionStage<Map<ActorRef<WorkerProtocol.Command>, Role>> draining = AskPattern.<Sessions.Command,
            WorkerDirectory.Withdrawn>ask(sessions, Sessions.FindWithdrawn::new, ask, system.scheduler())
        .handle((w, t) -> w == null ? Map.of() : w.workers());
    return listings().thenCombine(draining, WorkerView::withDraining).thenCompose(l -> reports(l).thenApply(reports -> {
      Map<Role, Integer> offered = new EnumMap<>(Role.class);
      offered(reachable(l.listings())).forEach((r, ws) -> offered.put(r, ws.size()));
      Map<Role, java.util.SortedMap<String, Boolean>> engines = new EnumMap<>(Role.class);
      var health = io.tandem.protocol.worker.EngineHealth.get(system);
      for (Role r : Role.values())
        if (!health.serving(r).isEmpty()) engines.put(r, health.serving(r));
      return new Scrape(reports, offered, engines);
    }));
  }

  /** The listings, and the draining workers not listed (a worker listed again is no longer draining). */
  private record Found(Map<Role, Receptionist.Listing> listings, Map<ActorRef<WorkerProtocol.Command>, Role> draining) {}

  private static Found withDraining(Map<Role, Receptionist.Listing> listings,
      Map<ActorRef<WorkerProtocol.Command>, Role> draining) {
    Map<ActorRef<WorkerProtocol.Command>, Role> notListed = new java.util.HashMap<>(draining);
    listings.forEach((role, l) -> notListed.keySet().removeAll(l.getAllServiceInstances(ServiceKeys.forRole(role))));
    return new Found(listings, notListed);
  }

  private CompletionStage<List<Report>> reports(Map<Role, Receptionist.Listing> listings) {
    return reports(new Found(listings, Map.of()));
  }

  private CompletionStage<List<Report>> reports(Found found) {
    Map<Role, Receptionist.Listing> listings = found.listings();
    java.util.function.Predicate<Address> silent = silentNodes();
    List<Report> listed = new ArrayList<>();
    List<CompletableFuture<WorkerStats>> asks = new ArrayList<>();
    listings.forEach((role, l) -> {
      // The receptionist's reachable listing, and the cluster's own verdict, whichever hears first.
      Set<ActorRef<WorkerProtocol.Command>> reachable = l.getServiceInstances(ServiceKeys.forRole(role));
      for (ActorRef<WorkerProtocol.Command> w : l.getAllServiceInstances(ServiceKeys.forRole(role)))
        report(role, w, false, reachable.contains(w), silent, listed, asks);
    });
    // Sessions bound to a draining worker reach it by its reference: so does the scrape.
    found.draining().forEach((w, role) -> report(role, w, true, true, silent, listed, asks));
    return CompletableFuture.allOf(asks.toArray(CompletableFuture[]::new)).thenApply(v -> {
      List<Report> out = new ArrayList<>();
      Map<String, Integer> contexts = new java.util.HashMap<>();
      for (int i = 0; i < listed.size(); i++) {
        Report r = listed.get(i);
        WorkerStats w = asks.get(i).join();
        // Withdrawn, or the last of its role serving on while its node stops (its figures say so).
        out.add(new Report(r.role(), r.node(), r.worker(), w, r.draining() || w != null && w.draining()));
        if (w != null && !r.draining() && w.contextLength() > 0) contexts.merge(w.role(), w.contextLength(), Math::min);
      }
      figures = new Figures(Map.copyOf(contexts), System.nanoTime());
      out.sort(Comparator.comparing(Report::role).thenComparing(Report::node).thenComparing(Report::worker));
      return out;
    });
  }

  /**
   * The nodes whose workers are not asked for figures (a worker's own node never is): none outside a
   * cluster; in one, those the failure detector finds unreachable, and those downed or no longer
   * members. This node's view of the membership, its receptionist and its death watch each hear of a
   * removal on their own: a withdrawn worker of a node just removed (no longer unreachable) was still
   * asked, until its death watch fired, and held the scrape for {@code worker-figures-timeout}.
   */
  private java.util.function.Predicate<Address> silentNodes() {
    if (!supply.clustered()) return node -> false;
    ClusterEvent.CurrentClusterState state = Cluster.get(system).state();
    Set<Address> known = new HashSet<>();
    for (Member m : state.getMembers())
      if (!m.status().equals(MemberStatus.down()) && !m.status().equals(MemberStatus.removed())) known.add(m.address());
    for (Member m : state.getUnreachable()) known.remove(m.address());
    Address self = system.address();
    return node -> !node.equals(self) && !known.contains(node);
  }

  /**
   * Adds {@code w} to {@code listed}, and the ask for its figures to {@code asks}: none when it is
   * not {@code reachable} as listed, or its node is {@code silent} ({@link #silentNodes}).
   */
  private void report(Role role, ActorRef<WorkerProtocol.Command> w, boolean draining, boolean reachable,
      java.util.function.Predicate<Address> silent, List<Report> listed, List<CompletableFuture<WorkerStats>> asks) {
    Address node = w.path().address().hasLocalScope() ? system.address() : w.path().address();
    // Of a node the failure detector finds unreachable, or downed, nothing is known, a drain included:
    // a node whose actor system stopped may withdraw its workers moments before it goes silent, as a drain does.
    listed.add(new Report(role, node.getHost().isPresent() ? node.getHost().get() + ":" + node.getPort().get() : "local",
        w.path().name(), null, draining && !silent.test(node)));
    asks.add(reachable && !silent.test(node)
        ? AskPattern.<WorkerProtocol.Command, WorkerStats>ask(w, WorkerProtocol.GetStats::new, figuresTimeout, system.scheduler())
            .toCompletableFuture().exceptionally(t -> null)
        : CompletableFuture.completedFuture(null));
  }

  /**
   * The smallest context length among the workers of {@code roles} (Integer.MAX_VALUE when none
   * answered: the worker that counts the prompt still bounds it), from the figures last seen; figures
   * older than {@code figuresMaxAge} are refreshed in the background, so that a request costs no
   * round of asks to every worker (only the first one waits for them).
   */
  CompletionStage<Integer> contextLength(Set<Role> roles) {
    Figures f = figures;
    CompletionStage<Figures> current;
    if (f.at() == NEVER) {
      current = listings().thenCompose(this::reports).thenApply(ws -> figures);
    } else {
      // Stale figures still serve this request; the refresh is for the next ones.
      if (System.nanoTime() - f.at() > figuresMaxAge.toNanos() && refreshing.compareAndSet(false, true))
        listings().thenCompose(this::reports).whenComplete((ws, t) -> refreshing.set(false));
      current = CompletableFuture.completedFuture(f);
    }
    return current.thenApply(x -> {
      int min = Integer.MAX_VALUE;
      for (Role r : roles) min = Math.min(min, x.contextByRole().getOrDefault(r.name(), Integer.MAX_VALUE));
      return min;
    });
  }

  /** Each role's smallest context length as last seen, and when. */
  private record Figures(Map<String, Integer> contextByRole, long at) {}

  /**
   * The prompt's token count as a worker of {@code role} reads it (exactly one of {@code prompt}
   * and {@code tokenIds}, the latter with {@code tokenIdsField}, the request field they came in: see
   * {@link WorkerProtocol.CountTokens}). Every listed worker of the role is asked at once and the
   * first answer wins (they serve one model, so any count is the count): a worker that died before the
   * cluster's failure detector finds its node unreachable, or one busy with a long step, costs
   * nothing while another answers. With none listed but a member of the role on its way ({@link
   * RoleSupply#memberComing}: joining, or unreachable and not downed, as a stalled node is), it waits
   * for one as a session does (the session directory, through {@link Sessions.FindWorkers}), up to
   * {@code tandem.session.worker-wait}. Fails with a 503 when no worker of the role is listed and none
   * comes (see {@link #noneListed}; {@code alone}, the role whose model alone could serve the request
   * instead, null for none), and with a retryable one when none answers within {@code
   * tandem.http.count-timeout}. Once {@code calledOff} completes (the client left), the returned
   * stage fails at once (a 503 that the routes log as the client's 499), so that the request and its
   * tenant's slot end then, and the workers asked are told to drop the count if they have not begun
   * it ({@link WorkerProtocol.CancelCount}); a count begun runs to its end unread. A count whose
   * workers' nodes the failure detector finds unreachable at its deadline (stalled, or crashed and
   * not yet downed) waits on for them as a session does, up to {@code tandem.session.worker-wait}
   * since it was asked, and one reachable again moments before is given count-timeout to answer;
   * one whose nodes were downed or left fails then, saying so.
   */
  CompletionStage<TokenCount> countTokens(Role role, Role alone, Prompt prompt, List<Integer> tokenIds,
      String tokenIdsField, RetryAfter retryAfter, CompletionStage<?> calledOff) {
    CompletableFuture<TokenCount> counted = counted(role, alone, prompt, tokenIds, tokenIdsField, retryAfter,
        calledOff).toCompletableFuture();
    calledOff.thenRun(() -> counted.completeExceptionally(ApiError.forFailure(FailureCode.UNAVAILABLE,
        "the client left before its prompt was counted", retryAfter.seconds())));
    return counted;
  }

  private CompletionStage<TokenCount> counted(Role role, Role alone, Prompt prompt, List<Integer> tokenIds,
      String tokenIdsField, RetryAfter retryAfter, CompletionStage<?> calledOff) {
    return find(role).thenCompose(listing -> {
      Set<ActorRef<WorkerProtocol.Command>> ws = listing.getServiceInstances(ServiceKeys.forRole(role));
      // This node out of the cluster for good (back from a pause it was most likely downed for, downed, leaving): refused
      // now, not after waiting for workers it cannot keep (tester47a: 11 s, then this 503). A node cut off, which may
      // pass (a short stall of its own), waits as before.
      if (NodeStanding.gone(system) != null) throw noneListed(role, alone, retryAfter);
      if (!ws.isEmpty()) return firstCount(role, ws, prompt, tokenIds, tokenIdsField, retryAfter, calledOff, false);
      if (!supply.memberComing(system, role)) throw noneListed(role, alone, retryAfter);
      return AskPattern.<Sessions.Command, WorkerDirectory.Workers>ask(sessions, reply -> new Sessions.FindWorkers(role, reply),
              workerWait, system.scheduler())
          .handle((offered, t) -> {
            // No answer within worker-wait: waited that long, as a session that waited says.
            if (offered == null || offered.workers().isEmpty())
              throw noneListed(role, alone, retryAfter, t != null ? workerWait : null);
            return offered.workers();
          })
          .thenCompose(offered -> firstCount(role, offered, prompt, tokenIds, tokenIdsField, retryAfter, calledOff, true));
    });
  }

  /**
   * Asks each of {@code ws} to count the prompt; the first answer wins (see {@link #countTokens}).
   * {@code justOffered}: the workers were waited for (their node was joining), and are given {@code
   * tandem.session.worker-wait} where that is longer than count-timeout: a worker's first requests,
   * on a node just started, are slow (tester50b: a large node restarted on a busy machine did not
   * count within 5 s, and the 503 spoke of long prompts).
   */
  CompletionStage<TokenCount> firstCount(Role role, Set<ActorRef<WorkerProtocol.Command>> ws, Prompt prompt,
      List<Integer> tokenIds, String tokenIdsField, RetryAfter retryAfter, CompletionStage<?> calledOff, boolean justOffered) {
    long size = WorkerProtocol.CountTokens.sizeOf(prompt, tokenIds);
    // In whole seconds: a prompt under 100,000 characters has none.
    long extraSeconds = size * COUNT_NANOS_PER_CHARACTER / 1_000_000_000L;
    boolean warmUp = justOffered && workerWait.compareTo(this.countTimeout) > 0;
    Duration base = warmUp ? workerWait : this.countTimeout;
    Duration countTimeout = base.plusSeconds(extraSeconds);
    String allowed = Seconds.of(countTimeout) + " s (" + (warmUp ? "tandem.session.worker-wait, given a worker just offered"
        : "tandem.http.count-timeout") + (extraSeconds == 0 ? "" : ", " + Seconds.of(base) + " s, and 10 µs more for each of"
        + " the prompt's " + String.format(java.util.Locale.ROOT, "%,d", size) + " characters") + ")";
    CompletableFuture<TokenCount> first = new CompletableFuture<>();
    AtomicInteger unanswered = new AtomicInteger(ws.size());
    // What the workers that stopped before counting said they lost.
    List<String> lost = new java.util.concurrent.CopyOnWriteArrayList<>();
    Map<ActorRef<WorkerProtocol.Command>, ActorRef<TokenCount>> askers = new java.util.concurrent.ConcurrentHashMap<>();
    Set<ActorRef<WorkerProtocol.Command>> answered = java.util.concurrent.ConcurrentHashMap.newKeySet();
    // This node's own standing, when it is out of the cluster's reach, rather than the worker's: a node downed while
    // it stalled (SIGSTOP) sees its peers unreachable or gone when it runs again, though they are fine (tester42b).
    java.util.function.Supplier<ApiError> ownStanding = () -> {
      String outOfTouch = NodeStanding.outOfTouch(system);
      return outOfTouch == null ? null : ownOutage(outOfTouch + ", so no " + role + " worker's count of the prompt came;"
          + " retry the request (on a node still in the cluster, or on this one once it has restarted)", retryAfter);
    };
    java.util.function.Supplier<ApiError> timedOut = () -> {
      ApiError own = ownStanding.get();
      if (own != null) return own;
      // An engine of this node's that is silent now is named (tester47d: a count during an engine's stall named nothing).
      String silence = io.tandem.protocol.worker.EngineHealth.get(system).silence(role);
      String none = (ws.size() == 1 ? "the " + role + " worker did not count" : "none of the " + ws.size() + " " + role
          + " workers counted") + " the prompt within " + allowed;
      // A silent engine is why, rather than a queue of counts in the worker's process (tester49d: a SIGSTOPped engine's
      // 503 spoke of counting long prompts, with the Retry-After of a busy worker): its worker is withdrawn after a few
      // more checks without an answer, so a retry waits as one that finds no worker does.
      if (silence != null)
        return ApiError.forFailure(FailureCode.UNAVAILABLE, none + ": " + silence + "; retry the request",
            retryAfter.forCode(FailureCode.NO_WORKER));
      // Withdrawn meanwhile, its engine's silence is a problem its endpoint reports (tester51g: 11 of 250 counts sent as an
      // engine worker was withdrawn, to a worker stopping, spoke of long prompts with Retry-After 1).
      String notServing = io.tandem.protocol.worker.EngineHealth.get(system).notServing(role);
      if (notServing != null)
        return ApiError.forFailure(FailureCode.UNAVAILABLE, none + ": this node's " + role + " " + notServing + "; retry the"
            + " request", retryAfter.forCode(FailureCode.NO_WORKER));
      if (justOffered)
        return ApiError.forFailure(FailureCode.UNAVAILABLE, none + ": " + (ws.size() == 1 ? "it" : "they") + " had only just"
            + " been offered (a " + role + " node that joined while the request waited), and a node's first requests are slow"
            + " on a busy machine; retry the request", retryAfter.forCode(FailureCode.NO_WORKER));
      // Between nodes the count or its answer may also have been lost (tester52d, tester52g: Artery's send queue overflowed).
      boolean remote = ws.stream().anyMatch(w -> w.path().address().hasGlobalScope());
      return ApiError.forFailure(FailureCode.UNAVAILABLE, none + ": a worker that does not answer is counting long prompts"
          + " sent before this one (one at a time), or stopped or stalled" + (remote ? ", or the count or its answer was lost"
          + " between the nodes (a node paused, or the link between them backed up)" : ""), retryAfter.seconds());
    };
    Duration backstop = max(countTimeout.multipliedBy(3), workerWait).plus(BACKSTOP);
    long sent = System.nanoTime();
    for (ActorRef<WorkerProtocol.Command> worker : ws) {
      // The ask's own timeout only backs up the deadline below, which a pause of this process does not use up.
      AskPattern.<WorkerProtocol.Command, TokenCount>ask(worker,
              reply -> {
                askers.put(worker, reply);
                return new WorkerProtocol.CountTokens(prompt, tokenIds, tokenIdsField, reply, countTimeout.toMillis());
              },
              backstop, system.scheduler())
          .whenComplete((answer, t) -> {
            answered.add(worker);
            // An ask failed before its timeout could: Akka's ask fails at once for a worker of this node that had stopped
            // when it was asked (listed moments before it was withdrawn; tester50i: 1 in 221 such 503s spoke of long
            // prompts, with Retry-After 1).
            TokenCount count = answer != null || System.nanoTime() - sent >= backstop.toNanos() ? answer
                : TokenCount.workerLost("worker " + worker.path().name() + " had stopped when it was asked"
                    + " (withdrawn, or its node stopping)");
            if (count != null && count.lost() == null) {
              first.complete(count);
            } else if (count != null) {
              lost.add(count.lost());
              // The others may still count it; when none can, at once rather than after the count timeout, with the wait of
              // a request that finds no worker, which a retry a second later would be (tester48h: Retry-After 1 beside 10).
              if (unanswered.decrementAndGet() == 0) first.completeExceptionally(ApiError.forFailure(FailureCode.UNAVAILABLE,
                  (ws.size() == 1 ? "the " + role + " worker" : "each of the " + ws.size() + " " + role + " workers")
                      + " could not count the prompt: " + String.join("; ", lost) + "; retry the request",
                  retryAfter.forCode(FailureCode.NO_WORKER)));
            } else if (unanswered.decrementAndGet() == 0) {
              first.completeExceptionally(lost.isEmpty() ? timedOut.get() : ApiError.forFailure(FailureCode.UNAVAILABLE,
                  "no " + role + " worker counted the prompt: " + String.join("; ", lost) + "; retry the request",
                  retryAfter.seconds()));
            }
          });
    }
    Runnable afterPause = () -> {
      ApiError own = ownStanding.get();
      if (own != null) first.completeExceptionally(own);
    };
    countsAfterPause.add(afterPause);
    first.whenComplete((c, t) -> countsAfterPause.remove(afterPause));
    if (ws.stream().anyMatch(w -> w.path().address().hasGlobalScope()))
      askAgainWhileSilent(role, first, askers, answered, prompt, tokenIds, tokenIdsField, sent, countTimeout,
          askAgainAfter.plusSeconds(extraSeconds));
    // A pause seen before this count was listed above (its request read as the process stopped) is not told it again
    // (tester51e: an 850 KB prompt read across a 20 s SIGSTOP waited 13 s for its count's timeout).
    if (NodeStanding.gone(system) != null) afterPause.run();
    long asked = System.nanoTime();
    long[] stalledLastSeen = {0};
    timeOutAfterRunning(first, countTimeout, () -> {
      long now = System.nanoTime();
      Standing standing = standing(ws);
      if (standing == Standing.STALLED) {
        // As a session waits for a stalled node: it may only have paused (a GC pause, SIGSTOP), and answers once it runs.
        if (stalledLastSeen[0] == 0)
          LOG.debug("the {} worker's node is unreachable: a count of a prompt waits for it, up to tandem.session.worker-wait", role);
        stalledLastSeen[0] = now;
        if (now - asked < workerWait.toNanos()) return null;
        ApiError own = ownStanding.get();
        if (own != null) return own;
        // Retried a second later, it meets the same node: wait as every 503 for a worker not there says (tester54e: 1 beside
        // their 10).
        return ApiError.forFailure(FailureCode.UNAVAILABLE, "the " + role + " worker's node " + nodesOf(ws) + " is unreachable"
            + " (stalled, or crashed and not yet downed) and did not count the prompt within " + Seconds.of(workerWait)
            + " s (tandem.session.worker-wait); retry the request", retryAfter.withoutWorkerSeconds());
      }
      if (standing == Standing.GONE) {
        ApiError own = ownStanding.get();
        return own != null ? own : ApiError.forFailure(FailureCode.NO_WORKER, "the " + role + " worker's node " + nodesOf(ws)
            + " was downed or left the cluster before it counted the prompt; retry the request (once a " + role + " node has"
            + " joined)", retryAfter.forCode(FailureCode.NO_WORKER));
      }
      // Reachable again moments ago: its answer is on its way.
      if (stalledLastSeen[0] != 0 && now - stalledLastSeen[0] < countTimeout.toNanos()) return null;
      return timedOut.get();
    });
    // Every count has been sent: a call-off told from now on reaches each worker after it.
    calledOff.thenRun(() -> {
      if (!first.isDone()) askers.forEach((worker, asker) -> worker.tell(new WorkerProtocol.CancelCount(asker)));
    });
    return first;
  }

  /**
   * Asks each worker of another node that has not answered the count again once it has been silent
   * for {@code interval} since it was last asked, and at once when its node is reachable again
   * after being unreachable (as a session asks about its step), on the ask's own reply path, for as
   * long as the count is waited for (its deadline, which a stalled node extends): the count or its
   * answer may have been lost between the nodes (Artery drops what overflows its send queue to a
   * node without a word; tester52d, tester52g: retryable 503s after count-timeout with a small send
   * queue; tester53d: a count lost while its worker's node was stopped, not asked again once it ran).
   * A node that is unreachable is not asked meanwhile. A worker still counting the prompt takes no
   * notice ({@code ModelWorker} counts one ask once at a time); one that had answered counts it
   * again, and the first answer to arrive wins, as among workers.
   */
  private void askAgainWhileSilent(Role role, CompletableFuture<TokenCount> first,
      Map<ActorRef<WorkerProtocol.Command>, ActorRef<TokenCount>> askers, Set<ActorRef<WorkerProtocol.Command>> answered,
      Prompt prompt, List<Integer> tokenIds, String tokenIdsField, long sent, Duration countTimeout, Duration interval) {
    Map<ActorRef<WorkerProtocol.Command>, Long> lastAsked = new HashMap<>();
    Set<ActorRef<WorkerProtocol.Command>> wasUnreachable = new HashSet<>();
    Duration every = interval.compareTo(RECHECK) < 0 ? interval : RECHECK;
    Runnable again = new Runnable() {
      @Override
      public void run() {
        if (first.isDone()) return;
        long now = System.nanoTime();
        Set<Address> unreachable = new HashSet<>();
        for (Member m : Cluster.get(system).state().getUnreachable()) unreachable.add(m.address());
        askers.forEach((worker, reply) -> {
          Address node = worker.path().address();
          if (!node.hasGlobalScope() || answered.contains(worker)) return;
          if (unreachable.contains(node)) {
            wasUnreachable.add(worker);
            return;
          }
          boolean back = wasUnreachable.remove(worker);
          if (!back && now - lastAsked.getOrDefault(worker, sent) < interval.toNanos()) return;
          lastAsked.put(worker, now);
          LOG.debug("asking the {} worker {} again to count a prompt: {} (the count or its answer may have been lost"
              + " between the nodes)", role, worker.path(), back ? "its node is reachable again"
              : "silent for " + Seconds.of(Duration.ofNanos(now - sent)) + " s since it was first asked");
          worker.tell(new WorkerProtocol.CountTokens(prompt, tokenIds, tokenIdsField, reply, countTimeout.toMillis()));
        });
        system.scheduler().scheduleOnce(every, this, system.executionContext());
      }
    };
    system.scheduler().scheduleOnce(every, again, system.executionContext());
  }

  /**
   * How much longer than {@code count-timeout} a count may take per character (or token id) of its
   * prompt: a prompt of 900,000 characters took 1.8-3.5 s to count on a loaded two-core machine,
   * and four sent at once, counted one after another, got 503s for their worker "not answering"
   * where each was a 400 for its length (tester45a); thrice that pace, so a count of 900,000
   * characters has 9 s more (whole seconds: a prompt under 100,000 characters none).
   */
  static final long COUNT_NANOS_PER_CHARACTER = 10_000;

  /** Where the nodes of the workers asked for a count stand, as this node's cluster sees them now. */
  private enum Standing {
    /** One of them at least is on this node, outside a cluster, or on a member up and reachable. */
    REACHABLE,
    /** None reachable, one at least on a member the failure detector finds unreachable and not downed. */
    STALLED,
    /** Every one on a member downed, or no longer a member. */
    GONE
  }

  private Standing standing(Set<ActorRef<WorkerProtocol.Command>> ws) {
    if (!supply.clustered()) return Standing.REACHABLE;
    var state = Cluster.get(system).state();
    Set<Address> unreachable = new HashSet<>();
    for (Member m : state.getUnreachable()) unreachable.add(m.address());
    Map<Address, MemberStatus> status = new HashMap<>();
    for (Member m : state.getMembers()) status.put(m.address(), m.status());
    Standing standing = Standing.GONE;
    for (ActorRef<WorkerProtocol.Command> w : ws) {
      Address a = w.path().address();
      if (a.hasLocalScope()) return Standing.REACHABLE;
      MemberStatus s = status.get(a);
      if (s == null || s.equals(MemberStatus.down()) || s.equals(MemberStatus.removed())) continue;
      if (!unreachable.contains(a)) return Standing.REACHABLE;
      standing = Standing.STALLED;
    }
    return standing;
  }

  /** The {@code host:port} of the nodes of {@code ws}, as a message names them (as /metrics labels them). */
  private static String nodesOf(Set<ActorRef<WorkerProtocol.Command>> ws) {
    return String.join(", ", ws.stream().map(w -> w.path().address())
        .map(a -> a.getHost().isPresent() ? a.getHost().get() + ":" + a.getPort().get() : "local").sorted().distinct().toList());
  }

  private static Duration max(Duration a, Duration b) {
    return a.compareTo(b) >= 0 ? a : b;
  }

  /**
   * How much longer than tandem.http.count-timeout (times three), or tandem.session.worker-wait for a
   * stalled node, an ask for a count may wait, paused or not.
   */
  private static final Duration BACKSTOP = Duration.ofSeconds(30);

  /** How often a count past its deadline looks again at a stalled worker's node (see {@link #timeOutAfterRunning}). */
  private static final Duration RECHECK = Duration.ofMillis(250);

  /**
   * Fails {@code answer} with {@code error}'s error once this process has run {@code limit} since now
   * without its being answered; a pause of the process (a GC pause, SIGSTOP: see {@link
   * RunningClock}) does not count, so that an answer that came during it, read once the process runs
   * again, is taken rather than beaten by the deadline firing beside it. An {@code error} of null
   * is "not yet": asked again every {@link #RECHECK} (a worker's node that stalled may answer still).
   */
  private void timeOutAfterRunning(CompletableFuture<?> answer, Duration limit, java.util.function.Supplier<ApiError> error) {
    RunningClock clock = RunningClock.process();
    long start = clock.nanos();
    Runnable check = new Runnable() {
      @Override
      public void run() {
        if (answer.isDone()) return;
        long ran = clock.nanos() - start;
        long left = limit.toNanos() - ran;
        if (left > 0) {
          system.scheduler().scheduleOnce(Duration.ofNanos(left), this, system.executionContext());
          return;
        }
        ApiError e = error.get();
        if (e != null) answer.completeExceptionally(e);
        else system.scheduler().scheduleOnce(RECHECK, this, system.executionContext());
      }
    };
    system.scheduler().scheduleOnce(limit, check, system.executionContext());
  }
}
