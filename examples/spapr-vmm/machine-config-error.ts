/** Input the machine cannot boot with; thrown before any VM exists. */
export class MachineConfigError extends Error {
  override name = 'MachineConfigError';
}
