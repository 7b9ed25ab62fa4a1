// The GPU memory budget the user sets (WebGPU does not tell how much memory the GPU has): one value
// for the training form's estimate and the plan shown before a model is downloaded.

import { useStore } from 'zustand';
import { createStore } from 'zustand/vanilla';

/** 4 GiB is what most discrete and integrated GPUs of recent years can give one tab. */
export const DEFAULT_BUDGET_GIB = 4;

interface BudgetState {
  budgetGiB: number;
  setBudgetGiB(gib: number): void;
}

export const budgetStore = createStore<BudgetState>()((set) => ({
  budgetGiB: DEFAULT_BUDGET_GIB,
  setBudgetGiB: (budgetGiB) => set({ budgetGiB }),
}));

export function useBudget<T>(selector: (s: BudgetState) => T): T {
  return useStore(budgetStore, selector);
}
