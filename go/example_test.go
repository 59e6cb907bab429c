package workerpool_test

import (
	"fmt"
	"sync/atomic"

	"workerpool.example/workerpool"
)

func Example() {
	pool, err := workerpool.New(4)
	if err != nil {
		panic(err)
	}
	defer pool.Free()
	var sum int64
	for i := 1; i <= 10; i++ {
		i := int64(i)
		if err := pool.Schedule(func() { atomic.AddInt64(&sum, i) }); err != nil {
			panic(err)
		}
	}
	if err := pool.Wait(); err != nil {
		panic(err)
	}
	fmt.Println("sum:", atomic.LoadInt64(&sum))
	// Output: sum: 55
}

func ExampleWithBlock() {
	pool, err := workerpool.New(1, workerpool.WithBlock(false))
	if err != nil {
		panic(err)
	}
	defer pool.Free()
	release := make(chan struct{})
	_ = pool.Schedule(func() { <-release })
	err = pool.Schedule(func() {})
	fmt.Println(err)
	close(release)
	// Output: workerpool: no idle worker in pool
}

func ExamplePool_NewGroup() {
	pool, err := workerpool.New(4)
	if err != nil {
		panic(err)
	}
	defer pool.Free()
	group, err := pool.NewGroup()
	if err != nil {
		panic(err)
	}
	defer group.Free()
	squares := make([]int, 5)
	for i := range squares {
		i := i
		_ = group.Schedule(func() { squares[i] = i * i })
	}
	_ = group.Wait()
	fmt.Println(squares, group.Stats().Completed)
	// Output: [0 1 4 9 16] 5
}

func ExamplePool_ParallelFor() {
	pool, err := workerpool.New(4)
	if err != nil {
		panic(err)
	}
	defer pool.Free()
	var total int64
	_ = pool.ParallelFor(0, 1000, 0, func(begin, end int) {
		local := int64(0)
		for i := begin; i < end; i++ {
			local += int64(i)
		}
		atomic.AddInt64(&total, local)
	})
	fmt.Println(total)
	// Output: 499500
}
