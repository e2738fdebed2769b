import {
  isNodeAffinitySchedulingStrategy,
  isPlacementGroupSchedulingStrategy,
  isSchedulingStrategy,
  NodeAffinitySchedulingStrategy,
  PlacementGroupSchedulingStrategy,
  type NodeAffinitySchedulingStrategyInit,
  type PlacementGroupSchedulingStrategyInit,
} from '../../../../src/api/scheduling-strategy';

const pg = { id: 'pg-1', bundleSpecs: [{ CPU: 1 }, { CPU: 2 }] };

/** Calls a constructor with input the types would refuse. */
function build<T>(ctor: new (init: never) => T, init: unknown): T {
  return new ctor(init as never);
}

describe('NodeAffinitySchedulingStrategy', () => {
  it('defaults soft to false and accepts node_id', () => {
    const s = new NodeAffinitySchedulingStrategy({ nodeId: 'abc' });
    expect(s).toMatchObject({ kind: 'NODE_AFFINITY', nodeId: 'abc', soft: false });
    expect(new NodeAffinitySchedulingStrategy({ node_id: 'def', soft: true })).toMatchObject({ nodeId: 'def', soft: true });
    expect(Object.isFrozen(s)).toBe(true);
  });

  it('validates its fields, naming them', () => {
    expect(() => build(NodeAffinitySchedulingStrategy, {})).toThrow(/'nodeId' is required/);
    expect(() => build(NodeAffinitySchedulingStrategy, { nodeId: 1 })).toThrow(
      new TypeError("NodeAffinitySchedulingStrategy: 'nodeId' must be a string, but received number"),
    );
    expect(() => build(NodeAffinitySchedulingStrategy, { nodeId: '' })).toThrow(RangeError);
    expect(() => build(NodeAffinitySchedulingStrategy, { nodeId: 'a', soft: 'yes' })).toThrow(/'soft' must be a boolean/);
    expect(() => build(NodeAffinitySchedulingStrategy, { nodeId: 'a', node_id: 'b' })).toThrow(/given twice/);
    expect(() => build(NodeAffinitySchedulingStrategy, { nodeId: 'a', hard: true })).toThrow(
      /unknown field 'hard'. Valid fields are: nodeId \(node_id\), soft/,
    );
    expect(() => build(NodeAffinitySchedulingStrategy, 'abc')).toThrow(TypeError);
  });

  it('types both spellings (compile-time check)', () => {
    const a: NodeAffinitySchedulingStrategyInit = { node_id: 'x' };
    // @ts-expect-error nodeId is required
    const b: NodeAffinitySchedulingStrategyInit = { soft: true };
    expect([a, b]).toHaveLength(2);
  });
});

describe('PlacementGroupSchedulingStrategy', () => {
  it('defaults to any bundle and no capture', () => {
    const s = new PlacementGroupSchedulingStrategy({ placementGroup: pg });
    expect(s).toMatchObject({
      kind: 'PLACEMENT_GROUP',
      placementGroupBundleIndex: -1,
      placementGroupCaptureChildTasks: false,
    });
    expect(s.placementGroup).toBe(pg);
    expect(Object.isFrozen(s)).toBe(true);
  });

  it('accepts the snake_case fields', () => {
    const s = new PlacementGroupSchedulingStrategy({
      placement_group: pg,
      placement_group_bundle_index: 1,
      placement_group_capture_child_tasks: true,
    });
    expect(s).toMatchObject({ placementGroupBundleIndex: 1, placementGroupCaptureChildTasks: true });
  });

  // Ray: util/placement_group.py check_placement_group_index (message "Valid placement group indexes: 0 to {n-1}")
  it.each([2, -2, 0.5, NaN])('rejects bundle index %p with a RangeError', (index) => {
    expect(() => new PlacementGroupSchedulingStrategy({ placementGroup: pg, placementGroupBundleIndex: index })).toThrow(
      /placement group bundle index .* is invalid. Valid placement group indexes: 0 to 1/,
    );
  });

  it('accepts indexes -1 .. bundle count - 1', () => {
    for (const index of [-1, 0, 1]) {
      expect(new PlacementGroupSchedulingStrategy({ placementGroup: pg, placementGroupBundleIndex: index }).placementGroupBundleIndex).toBe(index);
    }
  });

  it('validates the group and the other fields', () => {
    expect(() => build(PlacementGroupSchedulingStrategy, {})).toThrow(/'placementGroup' is required/);
    expect(() => build(PlacementGroupSchedulingStrategy, { placementGroup: { id: 1, bundleSpecs: [] } })).toThrow(
      /'placementGroup' must be a placement group/,
    );
    expect(() => build(PlacementGroupSchedulingStrategy, { placement_group: 'pg-1' })).toThrow(/'placement_group' must be/);
    expect(() => build(PlacementGroupSchedulingStrategy, { placementGroup: pg, placementGroupBundleIndex: '0' })).toThrow(TypeError);
    expect(() => build(PlacementGroupSchedulingStrategy, { placementGroup: pg, placementGroupCaptureChildTasks: 1 })).toThrow(
      /'placementGroupCaptureChildTasks' must be a boolean/,
    );
    expect(() => build(PlacementGroupSchedulingStrategy, { placementGroup: pg, bundleIndex: 0 })).toThrow(/unknown field 'bundleIndex'/);
    expect(() => new PlacementGroupSchedulingStrategy({ placementGroup: { id: 'e', bundleSpecs: [] }, placementGroupBundleIndex: 0 })).toThrow(RangeError);
  });

  it('types both spellings (compile-time check)', () => {
    const a: PlacementGroupSchedulingStrategyInit = { placement_group: pg, placement_group_bundle_index: 0 };
    expect(new PlacementGroupSchedulingStrategy(a).placementGroupBundleIndex).toBe(0);
  });
});

describe('brand checks', () => {
  it('instanceof and the guards recognise instances', () => {
    const na = new NodeAffinitySchedulingStrategy({ nodeId: 'a' });
    const pgs = new PlacementGroupSchedulingStrategy({ placementGroup: pg });
    expect(na instanceof NodeAffinitySchedulingStrategy).toBe(true);
    expect(pgs instanceof PlacementGroupSchedulingStrategy).toBe(true);
    expect(na instanceof PlacementGroupSchedulingStrategy).toBe(false);
    expect(isNodeAffinitySchedulingStrategy(na)).toBe(true);
    expect(isPlacementGroupSchedulingStrategy(na)).toBe(false);
    expect(isSchedulingStrategy('SPREAD')).toBe(true);
    expect(isSchedulingStrategy('spread')).toBe(false);
    expect(isSchedulingStrategy({ kind: 'NODE_AFFINITY', nodeId: 'a', soft: false })).toBe(false);
  });

  it('recognises instances built by another copy of the module', () => {
    jest.isolateModules(() => {
      const other = require('../../../../src/api/scheduling-strategy') as typeof import('../../../../src/api/scheduling-strategy');
      expect(other.NodeAffinitySchedulingStrategy).not.toBe(NodeAffinitySchedulingStrategy);
      const foreign = new other.NodeAffinitySchedulingStrategy({ nodeId: 'a' });
      expect(foreign instanceof NodeAffinitySchedulingStrategy).toBe(true);
      expect(isSchedulingStrategy(foreign)).toBe(true);
    });
  });
});
