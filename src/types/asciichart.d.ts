/** asciichart 1.5 ships no types: the part keda-lab uses (src/ui/loadtest-view.ts). */
declare module 'asciichart' {
  interface PlotConfig {
    min?: number
    max?: number
    offset?: number
    padding?: string
    height?: number
    colors?: (string | undefined)[]
    format?: (x: number, i: number) => string
    symbols?: string[]
  }
  const asciichart: {
    plot(series: number[] | number[][], cfg?: PlotConfig): string
    blue: string
    green: string
    yellow: string
    red: string
    default: string
    reset: string
  }
  export default asciichart
}
