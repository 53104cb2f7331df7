package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tandem.protocol.Role;
import io.tandem.worker.WorkerSettings;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** How many intra-op threads a worker's forward passes get when its role leaves {@code threads} at 0. */
class IntraOpThreadsTest {

  private static final WorkerSettings SETTINGS = new WorkerSettings(64, 256, 1L << 30, true);

  private static RoleSpec role(String model, String... devices) {
    return new RoleSpec(model, List.of(devices), SETTINGS, 256);
  }

  @Test
  void bothRolesOnTheCpuSplitTheCoresAndOneRoleAloneGetsThemAll() {
    int both = TandemNode.cpuWorkers(Map.of(Role.small, role("ops/demo/small", "cpu"), Role.large, role("ops/demo/large", "cpu")));
    assertEquals(2, both);
    assertEquals(1, TandemNode.intraOpThreads(0, both, 2));
    assertEquals(4, TandemNode.intraOpThreads(0, both, 8));
    int alone = TandemNode.cpuWorkers(Map.of(Role.large, role("ops/demo/large", "cpu")));
    assertEquals(2, TandemNode.intraOpThreads(0, alone, 2));
  }

  @Test
  void engineScriptedAndGpuWorkersDoNotCountAndASetValueWins() {
    int n = TandemNode.cpuWorkers(Map.of(
        Role.small, role("scripted:case.json", "cpu"),
        Role.large, role("ops/demo/large", "cpu", "gpu0", "openai:http://127.0.0.1:8000/v1?model=m")));
    assertEquals(1, n);
    assertEquals(2, TandemNode.intraOpThreads(0, n, 2));
    assertEquals(3, TandemNode.intraOpThreads(3, 5, 2), "a role's own threads setting is used as it is");
    assertEquals(1, TandemNode.intraOpThreads(0, 3, 2), "never fewer than one");
  }

  @Test
  void threadsSetBeyondTheCoresAcrossAllCpuWorkersAreWarnedAbout() {
    Map<Role, RoleSpec> defaults = Map.of(Role.small, role("ops/demo/small", "cpu"), Role.large, role("ops/demo/large", "cpu"));
    assertNull(TandemNode.oversubscription(defaults, 2, 2), "the default never oversubscribes");
    Map<Role, RoleSpec> twoEach = new java.util.TreeMap<>(Map.of(
        Role.small, withThreads(role("ops/demo/small", "cpu"), 2), Role.large, withThreads(role("ops/demo/large", "cpu"), 2)));
    String warning = TandemNode.oversubscription(twoEach, 2, 2);
    assertTrue(warning != null && warning.startsWith("4 intra-op threads across 2 CPU worker(s) (tandem.small.threads = 2, "
        + "tandem.large.threads = 2) on 2 cores"), warning);
    assertNull(TandemNode.oversubscription(twoEach, 2, 4), "4 threads on 4 cores");
    Map<Role, RoleSpec> gpuFirst = Map.of(Role.large, withThreads(role("ops/demo/large", "gpu0", "cpu"), 1024));
    assertTrue(TandemNode.oversubscription(gpuFirst, 1, 2).startsWith("1024 intra-op threads across 1 CPU worker(s)"),
        "a CPU replica after a GPU counts");
  }

  @Test
  void anEvalOfOneModeSplitsTheCoresAsThePairWould() {
    com.typesafe.config.Config config = com.typesafe.config.ConfigFactory.parseString(
        "tandem.small { model = \"\", devices = [cpu], max-batch = 64, threads = 0 }")
        .withFallback(ModelOptions.baseConfig());
    Map<Role, String> noFlags = Map.of(Role.small, "null", Role.large, "null");
    int cores = Runtime.getRuntime().availableProcessors();
    int shared = TandemNode.intraOpThreads(0, 2, cores);
    Map<Role, RoleSpec> largeOnly = EvalCommand.pairThreads(Map.of(Role.large, role("ops/demo/large", "cpu")), config, noFlags);
    assertEquals(shared, largeOnly.get(Role.large).threads(), "--modes large gets the large model's share beside the small one");
    assertEquals(List.of(Role.large), List.copyOf(largeOnly.keySet()), "the role not run is not started");
    Map<Role, RoleSpec> scripted = EvalCommand.pairThreads(Map.of(Role.large, role("ops/demo/large", "cpu")), config,
        Map.of(Role.small, "scripted:case.json", Role.large, "null"));
    assertEquals(TandemNode.intraOpThreads(0, 1, cores), scripted.get(Role.large).threads(),
        "a scripted small model given takes no cores");
    Map<Role, RoleSpec> set = EvalCommand.pairThreads(Map.of(Role.large, withThreads(role("ops/demo/large", "cpu"), 3)), config, noFlags);
    assertEquals(3, set.get(Role.large).threads(), "threads set in the config are kept");
  }

  private static RoleSpec withThreads(RoleSpec spec, int threads) {
    return new RoleSpec(spec.model(), spec.devices(), spec.settings(), spec.perTenantQueueLimit(), spec.precision(), threads);
  }
}
