package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
  void moreThreadsThanCoresIsWarnedAbout() {
    assertEquals(null, TandemNode.oversubscription(Role.large, 0, 2));
    assertEquals(null, TandemNode.oversubscription(Role.large, 2, 2));
    String warning = TandemNode.oversubscription(Role.small, 1024, 2);
    assertTrue(warning.startsWith("tandem.small.threads = 1024 is more than this machine's 2 cores"), warning);
  }
}
